/** The Docker Engine API client (see client.ts). */
export {
  DockerClient,
  MAX_API_VERSION,
  MIN_API_VERSION,
  negotiateVersion,
  splitRepoTag,
  type DockerClientOptions,
  type ImageInspect,
  type LoadOptions,
  type LoadResult,
  type RemoveResult,
} from './client.js';
export { DEFAULT_DOCKER_HOST, parseDockerHost, type DockerEndpoint } from './host.js';
export { jsonMessages, messageError, type JsonMessage } from './jsonstream.js';
