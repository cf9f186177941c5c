// How fetchDebs reports progress: a cli-progress bar on a terminal, one line per package otherwise.
import cliProgress from 'cli-progress';
import { formatBytes } from '../format.ts';

/** One progress event; counts are over the packages that need downloading (cached ones are not counted). */
export interface FetchProgress {
  event: 'start' | 'file-start' | 'data' | 'file-done' | 'finish';
  /** `name version` of the package the event is about (file-start, data, file-done). */
  package?: string;
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Packages found intact in the cache (known from `start` on). */
  cachedFiles: number;
}

export interface ProgressReporter {
  onProgress: (p: FetchProgress) => void;
  /** Ends the bar (call on success and on failure). */
  stop: () => void;
}

/** A bar when `stream` is a TTY, else plain lines (`fetch: name version [i/n]`). */
export function progressReporter(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  if (stream.isTTY) {
    let bar: cliProgress.SingleBar | undefined;
    return {
      onProgress(p) {
        if (p.event === 'start') {
          if (p.filesTotal === 0) return;
          bar = new cliProgress.SingleBar(
            {
              stream,
              format: 'fetch [{bar}] {percentage}% | {doneBytes}/{totalBytes} | {files}/{filesTotal} debs | {current}',
              hideCursor: true,
              clearOnComplete: false,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(p.bytesTotal, 0, { doneBytes: formatBytes(0), totalBytes: formatBytes(p.bytesTotal), files: 0, filesTotal: p.filesTotal, current: '' });
        } else if (bar && p.event !== 'finish') {
          bar.update(p.bytesDone, { doneBytes: formatBytes(p.bytesDone), files: p.filesDone, current: p.package ?? '' });
        } else if (bar) {
          bar.update(p.bytesDone, { doneBytes: formatBytes(p.bytesDone), files: p.filesDone, current: 'done' });
        }
      },
      stop() {
        bar?.stop();
        bar = undefined;
      },
    };
  }
  return {
    onProgress(p) {
      if (p.event === 'start' && p.filesTotal > 0) {
        stream.write(`fetch: ${p.filesTotal} packages to download (${formatBytes(p.bytesTotal)}), ${p.cachedFiles} in the cache\n`);
      } else if (p.event === 'file-done') {
        stream.write(`fetch: ${p.package} [${p.filesDone}/${p.filesTotal}]\n`);
      }
    },
    stop() {},
  };
}
