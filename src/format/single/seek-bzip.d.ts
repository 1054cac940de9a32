// Minimal typing for the pure-JS bzip2 decoder (CommonJS, no bundled types).
declare module 'seek-bzip' {
  interface InputStream {
    readByte(): number;
    read(buffer: Uint8Array, offset: number, length: number): number;
  }
  interface OutputStream {
    writeByte(byte: number): void;
  }
  const Bunzip: {
    decode(input: InputStream | Uint8Array, output?: OutputStream | number, multistream?: boolean): Uint8Array | undefined;
  };
  export default Bunzip;
}
