/** Window sizes for create (see CreateOptions.windowSize), apart so the CLI can show them without loading create. */
export const DEFAULT_WINDOW_SIZE = 1024 * 1024;
export const MIN_WINDOW_SIZE = 64 * 1024;
export const MAX_WINDOW_SIZE = 256 * 1024 * 1024;
