/**
 * Kubernetes API EMULATOR: PATCH bodies. JSON merge patch (RFC 7386), strategic merge patch for the
 * fields pgha and Patroni touch, and JSON patch (RFC 6902). Strategic merge differs from a merge
 * patch only for lists with a patch merge key; the emulator merges `subsets` of Endpoints (no merge
 * key: replaced, as the real server does) and, for Pods, `spec.containers`/`status.conditions` by
 * their key (`name`/`type`). `$patch: delete|replace` directives on maps are honoured.
 */
import { ApiError, clone, type K8sObject } from './store.js';

export const PATCH_TYPES = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
} as const;

const MERGE_KEYS: Record<string, string> = { containers: 'name', initContainers: 'name', conditions: 'type', ports: 'containerPort', env: 'name', volumes: 'name' };

export function applyPatch(contentType: string, target: K8sObject, patch: unknown): K8sObject {
  const ct = contentType.split(';')[0]!.trim().toLowerCase();
  if (ct === PATCH_TYPES.merge) return mergePatch(clone(target), patch, false) as K8sObject;
  if (ct === PATCH_TYPES.strategic) return mergePatch(clone(target), patch, true) as K8sObject;
  if (ct === PATCH_TYPES.json) return jsonPatch(clone(target), patch);
  throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${Object.values(PATCH_TYPES).join(', ')}`);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mergePatch(target: unknown, patch: unknown, strategic: boolean, field = ''): unknown {
  if (!isMap(patch)) return patch;
  if (strategic && patch.$patch === 'delete') return undefined;
  if (strategic && patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return rest;
  }
  const out: Record<string, unknown> = isMap(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k.startsWith('$setElementOrder') || k.startsWith('$retainKeys') || k.startsWith('$deleteFromPrimitiveList')) continue;
    if (v === null) {
      delete out[k];
    } else if (strategic && Array.isArray(v) && MERGE_KEYS[k] && Array.isArray(out[k]) && field !== 'subsets') {
      out[k] = mergeList(out[k] as unknown[], v, MERGE_KEYS[k]!);
    } else {
      const merged = mergePatch(out[k], v, strategic, k);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
  }
  return out;
}

function mergeList(cur: unknown[], patch: unknown[], key: string): unknown[] {
  const out = [...cur];
  for (const item of patch) {
    if (!isMap(item)) continue;
    const i = out.findIndex((c) => isMap(c) && c[key] === item[key]);
    if (item.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) out[i] = mergePatch(out[i], item, true);
    else out.push(item);
  }
  return out;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new ApiError(422, 'Invalid', `invalid JSON pointer ${path}`);
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function jsonPatch(doc: K8sObject, ops: unknown): K8sObject {
  if (!Array.isArray(ops)) throw new ApiError(400, 'BadRequest', 'json patch must be an array of operations');
  let root: any = doc;
  for (const op of ops) {
    if (!isMap(op) || typeof op.op !== 'string' || typeof op.path !== 'string') throw new ApiError(400, 'BadRequest', 'invalid json patch operation');
    const parts = pointer(op.path);
    const last = parts.pop();
    let parent: any = root;
    for (const p of parts) {
      parent = Array.isArray(parent) ? parent[Number(p)] : parent?.[p];
      if (parent === undefined || parent === null) throw new ApiError(422, 'Invalid', `json patch: path ${op.path} does not exist`);
    }
    if (last === undefined) {
      if (op.op === 'test') {
        if (JSON.stringify(root) !== JSON.stringify(op.value)) throw new ApiError(422, 'Invalid', 'json patch test failed');
        continue;
      }
      root = clone(op.value);
      continue;
    }
    const idx = Array.isArray(parent) ? (last === '-' ? parent.length : Number(last)) : last;
    switch (op.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(idx as number, 0, clone(op.value));
        else parent[idx] = clone(op.value);
        break;
      case 'replace':
        if (!(idx in parent)) throw new ApiError(422, 'Invalid', `json patch: replace of missing path ${op.path}`);
        parent[idx] = clone(op.value);
        break;
      case 'remove':
        if (!(idx in parent)) throw new ApiError(422, 'Invalid', `json patch: remove of missing path ${op.path}`);
        if (Array.isArray(parent)) parent.splice(idx as number, 1);
        else delete parent[idx];
        break;
      case 'test':
        if (JSON.stringify(parent[idx]) !== JSON.stringify(op.value)) throw new ApiError(422, 'Invalid', `json patch test failed at ${op.path}`);
        break;
      default:
        throw new ApiError(400, 'BadRequest', `json patch op ${op.op} is not supported by the emulator`);
    }
  }
  return root as K8sObject;
}
