/**
 * The image format's size limits, written by create and enforced by apply.
 * Window sizes (see CreateOptions.windowSize) are apart from create so the
 * CLI can show them without loading it.
 */
export const DEFAULT_WINDOW_SIZE = 1024 * 1024;
export const MIN_WINDOW_SIZE = 64 * 1024;
export const MAX_WINDOW_SIZE = 256 * 1024 * 1024;

/** Largest literal frame: create splits a literal entry into frames of this size, apply refuses bigger ones. */
export const MAX_LITERAL_CHUNK = 4 * 1024 * 1024;
