/**
 * `pulumi up --target` as the engine checks it, for the resources a mocked program registered.
 * The mock monitor's URNs name only the nearest ancestor's type; the engine's chain every
 * ancestor's type but the stack's (`ecomm:aws:ImageRegistry$aws:ecr/repository:Repository`), so
 * they are rebuilt from the registrations' parents.
 */
import type { Registration } from './mock-cloud.ts';

export interface EngineResource {
  urn: string;
  type: string;
  /** The parent's URN; undefined for the stack and its direct children. */
  parent: string | undefined;
  dependencies: string[];
}

const STACK_TYPE = 'pulumi:pulumi:Stack';

/** The registered resources by engine URN. */
export function engineResources(
  registrations: readonly Registration[],
  project: string,
  stack: string,
): Map<string, EngineResource> {
  const byMockUrn = new Map(registrations.map((r) => [r.urn, r]));
  const qualifiedTypes = new Map<string, string>();
  const qualifiedType = (registration: Registration): string => {
    let type = qualifiedTypes.get(registration.urn);
    if (type === undefined) {
      const parent = byMockUrn.get(registration.parent);
      type =
        parent === undefined || parent.type === STACK_TYPE
          ? registration.type
          : `${qualifiedType(parent)}$${registration.type}`;
      qualifiedTypes.set(registration.urn, type);
    }
    return type;
  };
  const engineUrn = (mockUrn: string): string => {
    const registration = byMockUrn.get(mockUrn);
    if (registration === undefined) throw new Error(`no registration for ${mockUrn}`);
    return `urn:pulumi:${stack}::${project}::${qualifiedType(registration)}::${registration.name}`;
  };
  const resources = new Map<string, EngineResource>();
  for (const registration of registrations) {
    const parent = byMockUrn.get(registration.parent);
    resources.set(engineUrn(registration.urn), {
      urn: engineUrn(registration.urn),
      type: registration.type,
      parent: parent === undefined || parent.type === STACK_TYPE ? undefined : engineUrn(parent.urn),
      dependencies: registration.dependencies.map(engineUrn),
    });
  }
  return resources;
}

/** The engine creates the stack and providers whatever the targets. */
function implicitlyTargeted(resource: EngineResource | undefined): boolean {
  return (
    resource === undefined || resource.type === STACK_TYPE || resource.type.startsWith('pulumi:providers:')
  );
}

/** Parent first: the engine checks it like any other dependency. */
function dependenciesOf(resource: EngineResource): string[] {
  return resource.parent === undefined ? resource.dependencies : [resource.parent, ...resource.dependencies];
}

/** `--target-dependents`: the targets plus everything that has one as parent or dependency, transitively. */
export function withDependents(
  resources: Map<string, EngineResource>,
  targets: Iterable<string>,
): Set<string> {
  const expanded = new Set(targets);
  let grew = true;
  while (grew) {
    grew = false;
    for (const resource of resources.values()) {
      if (!expanded.has(resource.urn) && dependenciesOf(resource).some((urn) => expanded.has(urn))) {
        expanded.add(resource.urn);
        grew = true;
      }
    }
  }
  return expanded;
}

/**
 * What the engine refuses in a targeted `pulumi up` on a stack where nothing exists yet: each
 * target missing from the program, and each target that depends on (or is the child of) a resource
 * it would have to create without being told to, in the engine's own words.
 */
export function targetingProblems(
  resources: Map<string, EngineResource>,
  targets: ReadonlySet<string>,
): string[] {
  const problems: string[] = [];
  for (const target of targets) {
    const resource = resources.get(target);
    if (resource === undefined) {
      problems.push(`Target '${target}' could not be found in the stack.`);
      continue;
    }
    for (const dependency of dependenciesOf(resource)) {
      if (!targets.has(dependency) && !implicitlyTargeted(resources.get(dependency))) {
        problems.push(
          `Resource '${target}' depends on '${dependency}' which was not specified in --target list.`,
        );
      }
    }
  }
  return problems;
}
