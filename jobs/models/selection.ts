/**
 * Which models a transform builds: `--select <model>[+]` and `--exclude <model>[+]`, each repeated or a comma list.
 * A selector names a model as `silver.orders`, or by its bare name (`orders`) when only one layer has it; a
 * trailing `+` adds everything downstream of the model (what reads it, transitively, in its layer and the next).
 */
import { downstreamOf, type Model } from './models.ts';

export interface ModelSelection {
  /** Selectors of the models to build; none: every model. */
  select?: string[];
  /** Selectors of the models to leave out (applied after `select`). */
  exclude?: string[];
}

/** A selector that names no model, or more than one, or is not written `<model>[+]`. */
export class SelectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectionError';
  }
}

const SELECTOR = /^(?:(silver|gold)\.)?([a-z_][a-z0-9_]*)(\+?)$/;

/** The selectors of repeated or comma-separated flag values, trimmed, empty ones dropped. */
export function splitSelectors(values: readonly string[]): string[] {
  return values
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
}

/** The model names one selector stands for (the model, and with `+` its downstream). Throws SelectionError. */
export function resolveSelector(models: Model[], selector: string): string[] {
  const match = SELECTOR.exec(selector.trim().toLowerCase());
  if (!match) {
    throw new SelectionError(
      `bad model selector "${selector}": expected <model>[+], e.g. silver.orders, orders or silver.orders+`,
    );
  }
  const [, layer, table, plus] = match as unknown as [string, string | undefined, string, string];
  const candidates = models.filter((model) =>
    layer ? model.name === `${layer}.${table}` : model.name.split('.')[1] === table,
  );
  if (candidates.length === 0) {
    const near = nearMatches(models, layer ? `${layer}.${table}` : table);
    throw new SelectionError(
      `unknown model "${selector}"${near.length > 0 ? `; did you mean ${near.join(', ')}?` : ''} (models are <layer>.<name>, e.g. silver.orders)`,
    );
  }
  if (candidates.length > 1) {
    throw new SelectionError(
      `ambiguous model "${selector}": ${candidates.map((model) => model.name).join(', ')}; name its layer`,
    );
  }
  const name = (candidates[0] as Model).name;
  return plus ? [name, ...downstreamOf(models, [name])] : [name];
}

/**
 * The names of the models a selection builds, in the order of `models`: every model (or those `select` names), less
 * those `exclude` names. Throws SelectionError naming a bad selector, or when nothing is left to build.
 */
export function selectModels(models: Model[], selection: ModelSelection): string[] {
  const resolveAll = (selectors: string[]) =>
    new Set(splitSelectors(selectors).flatMap((selector) => resolveSelector(models, selector)));
  const selectors = splitSelectors(selection.select ?? []);
  const chosen = selectors.length > 0 ? resolveAll(selectors) : new Set(models.map((model) => model.name));
  const excluded = resolveAll(selection.exclude ?? []);
  const names = models.map((model) => model.name).filter((name) => chosen.has(name) && !excluded.has(name));
  if (names.length === 0) throw new SelectionError('the selection leaves no model to build');
  return names;
}

/** Up to 5 model names close to `wanted` (a few typos away, or containing it), closest first. */
function nearMatches(models: Model[], wanted: string): string[] {
  const limit = Math.max(2, Math.floor(wanted.length / 3));
  return models
    .map((model) => {
      const target = wanted.includes('.') ? model.name : (model.name.split('.')[1] as string);
      const contains = target.includes(wanted) || wanted.includes(target);
      return { name: model.name, distance: editDistance(wanted, target), contains };
    })
    .filter((entry) => entry.distance <= limit || entry.contains)
    .sort((a, b) => a.distance - b.distance || (a.name < b.name ? -1 : 1))
    .slice(0, 5)
    .map((entry) => entry.name);
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}
