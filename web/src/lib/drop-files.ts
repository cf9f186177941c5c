// A Svelte action that makes an element a drop target for files: `use:dropFiles={(files, folders) => …}`.
// While files are dragged over it the element carries `data-dropping`; folders are named, not read.

import type { ActionReturn } from 'svelte/action';

export type OnDrop = (files: File[], folders: string[]) => void;

const carriesFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');

export function dropFiles(node: HTMLElement, onDrop: OnDrop): ActionReturn<OnDrop> {
  let handler = onDrop;
  // dragenter/dragleave fire for every child crossed: count them so the highlight does not flicker.
  let depth = 0;
  const set = (on: boolean) => (on ? node.setAttribute('data-dropping', '') : node.removeAttribute('data-dropping'));
  const enter = (e: DragEvent) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    depth++;
    set(true);
  };
  const over = (e: DragEvent) => {
    if (!carriesFiles(e)) return;
    e.preventDefault(); // without it the browser opens the file instead of dropping it here
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
  };
  const leave = () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) set(false);
  };
  const drop = (e: DragEvent) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    depth = 0;
    set(false);
    const files: File[] = [];
    const folders: string[] = [];
    for (const item of Array.from(e.dataTransfer?.items ?? [])) {
      if (item.kind !== 'file') continue;
      const file = item.getAsFile();
      if (item.webkitGetAsEntry?.()?.isDirectory) folders.push(file?.name ?? 'a folder');
      else if (file) files.push(file);
    }
    handler(files, folders);
  };
  node.addEventListener('dragenter', enter);
  node.addEventListener('dragover', over);
  node.addEventListener('dragleave', leave);
  node.addEventListener('drop', drop);
  return {
    update(next) {
      handler = next;
    },
    destroy() {
      node.removeEventListener('dragenter', enter);
      node.removeEventListener('dragover', over);
      node.removeEventListener('dragleave', leave);
      node.removeEventListener('drop', drop);
    },
  };
}
