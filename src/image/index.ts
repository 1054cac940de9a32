/**
 * src/image: reading image archives and layer tars, platform-neutral.
 * (Node file sources and hashing: import './source.node.js' directly.)
 */

export { blobSource, memorySource, DEFAULT_CHUNK_SIZE, type ByteSource } from './source.js';
export { hashBytes, hashStream, type Hasher, type HasherFactory } from './hash.js';
export { indexTar, readTar, type TarEnd, type TarEntry, type TarEntryInfo, type TarEntryType, type TarIndex, type TarReader } from './tar.js';
export { encodeUstarHeader, paddingSize } from './tar-header.js';
export {
  gunzip, layerStoredDigest, openImageArchive, openLayer,
  type ArchiveKind, type ImageArchive, type LayerRef, type OpenArchiveOptions, type OpenLayerOptions,
} from './archive.js';
export { ImageFileMap, indexLayer, normalizePath, type FileLocation, type LayerEntry, type LayerIndex } from './layer-index.js';
// build.ts/sample.ts are not re-exported: demo and test helpers, not library API.
