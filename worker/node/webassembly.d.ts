// Node runs WebAssembly (V8's global), but TypeScript declares `WebAssembly` only in its DOM and
// WebWorker libs, which this Node project leaves out on purpose. The part the Node side uses.
declare namespace WebAssembly {
  // Opaque here: the thread only hands the compiled module to the machine (worker/machine.ts).
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface Module {}
  function compile(bytes: ArrayBufferView | ArrayBuffer): Promise<Module>;
}
