/**
 * The pure parts of create from a registry: which OLD/NEW arguments name a
 * registry (Docker's rule for the first path component), --platform and
 * the host's default platform in OCI names, and the RepoTags an image
 * read by a reference gets.
 */
import { describe, expect, it } from 'vitest';
import { tagsFor } from '../../src/cli/create-inputs.js';
import { namesRegistryHost } from '../../src/cli/inputs.js';
import { PatcherError } from '../../src/errors.js';
import { hostPlatform, parsePlatform } from '../../src/registry/pull.js';
import { parseReference } from '../../src/registry/reference.js';

describe('namesRegistryHost', () => {
  it.each([
    ['127.0.0.1:5000/app:2', true],
    ['registry.example/app', true],
    ['localhost/app:1', true],
    ['localhost:5000/team/app@sha256:' + 'a'.repeat(64), true],
    ['[::1]:5000/app', true],
    ['ghcr.io/me/app:v1', true],
    ['me/app:2', false],
    ['nginx:1.25', false],
    ['nginx', false],
    ['sha256:' + 'a'.repeat(64), false],
    ['27a188018e18', false],
    ['Localhost/app', false],
    ['./dir.d/app.tar', false],
    ['../x.y/app', false],
    ['/abs.dir/app', false],
  ])('%s -> %s', (ref, expected) => {
    expect(namesRegistryHost(ref)).toBe(expected);
  });
});

describe('platforms', () => {
  it('parses os/arch[/variant] and refuses anything else', () => {
    expect(parsePlatform('linux/arm64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('linux/arm/v7')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    for (const bad of ['linux', 'linux/', 'a/b/c/d', 'linux/arm 64']) expect(() => parsePlatform(bad)).toThrow(PatcherError);
  });

  it("maps Node's architecture names to OCI's", () => {
    expect(hostPlatform('x64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(hostPlatform('arm64')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(hostPlatform('arm')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(hostPlatform('riscv64')).toEqual({ os: 'linux', architecture: 'riscv64' });
  });
});

describe('tagsFor', () => {
  const D = `sha256:${'b'.repeat(64)}`;
  it.each([
    ['127.0.0.1:5000/app:2', ['127.0.0.1:5000/app:2']],
    ['127.0.0.1:5000/app', ['127.0.0.1:5000/app:latest']],
    [`127.0.0.1:5000/app:2@${D}`, ['127.0.0.1:5000/app:2']],
    [`127.0.0.1:5000/app@${D}`, []],
  ])('%s', (given, expected) => {
    expect(tagsFor(given, parseReference(given, { defaultTag: true }))).toEqual(expected);
  });
});
