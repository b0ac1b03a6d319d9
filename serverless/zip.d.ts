export interface ZipEntry {
  name: string;
  data: Buffer;
}
export function crc32(data: Uint8Array): number;
export function crc32Portable(data: Uint8Array): number;
export function createZip(entries: ZipEntry[]): Buffer;
export function directoryEntries(dir: string, include?: (relativeName: string) => boolean): ZipEntry[];
