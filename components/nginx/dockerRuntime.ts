/**
 * The Docker target's resources (the settings, scripts and validation are in dockerTarget.ts):
 * an optional `docker.Provider` for `host`, the pinned `docker.RemoteImage`, the `docker.Volume` with
 * the releases, an optional `docker.Network`, and the `docker.Container`. Every input of the container
 * comes from the resolved settings (never from certificate content), so rotations, CRL refreshes and
 * config changes leave it alone: they go through the install command (`docker exec`).
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { CONTAINER_TMPFS, DockerTarget, DockerTargetSettings, DROPPED_CAPABILITIES, renderContainerEntrypoint, renderHealthcheck } from "./dockerTarget";

/** Label put on the container, volume and network. */
export const SITE_LABEL = "io.github.pulumi-mtls-nginx.site";

export interface DockerRuntime {
    /** The provider created for `target.host` (undefined when the default or the caller's provider is used). */
    provider?: docker.Provider;
    image: docker.RemoteImage;
    volume: docker.Volume;
    /** The network created for `network: { create: true }`. */
    network?: docker.Network;
    container: docker.Container;
    /** Environment of the `docker exec` commands: the same Docker host as the resources (DOCKER_HOST / DOCKER_CONTEXT). */
    environment: pulumi.Output<Record<string, string>>;
}

/** DOCKER_HOST (or, without a host, DOCKER_CONTEXT) for the docker CLI; empty: the CLI's own defaults, like the provider's. */
export function dockerEnvironment(host: string | undefined, context: string | undefined): Record<string, string> {
    const env: Record<string, string> = {};
    if (host) env.DOCKER_HOST = host;
    else if (context) env.DOCKER_CONTEXT = context;
    return env;
}

/** The container's arguments that do not refer to other resources (pure; exported for tests). */
export function containerArgs(s: DockerTargetSettings): Omit<docker.ContainerArgs, "image" | "mounts" | "networksAdvanced"> {
    const h = s.healthcheck;
    return {
        name: s.containerName,
        // docker-init (tini) is PID 1: it forwards signals to the entry script and reaps nginx's processes.
        init: true,
        entrypoints: ["/bin/sh", "-c"],
        command: [renderContainerEntrypoint(s), "mtls-nginx"],
        restart: s.restart,
        ports: s.ports.map((p) => ({ ip: p.hostIp, external: p.hostPort, internal: p.containerPort, protocol: "tcp" })),
        privileged: false,
        readOnly: s.readOnlyRootFilesystem,
        tmpfs: { ...CONTAINER_TMPFS },
        capabilities: { drops: [...DROPPED_CAPABILITIES] },
        securityOpts: ["no-new-privileges:true"],
        ...(h
            ? {
                  healthcheck: {
                      tests: ["CMD-SHELL", renderHealthcheck(s)],
                      interval: `${h.intervalSeconds}s`,
                      timeout: `${h.timeoutSeconds}s`,
                      retries: h.retries,
                      startPeriod: `${h.startPeriodSeconds}s`,
                  },
              }
            : {}),
        logDriver: s.logDriver,
        logOpts: { ...s.logOpts },
        stopSignal: "SIGTERM",
        stopTimeout: 15,
        destroyGraceSeconds: 15,
        labels: [{ label: SITE_LABEL, value: s.siteName }],
    };
}

/** Creates the Docker resources of a site as children of `parent`, named `${name}-<role>`. */
export function createDockerRuntime(name: string, s: DockerTargetSettings, target: DockerTarget, parent: pulumi.Resource): DockerRuntime {
    let provider: docker.Provider | undefined = target.provider;
    let created: docker.Provider | undefined;
    if (!provider && target.host !== undefined) {
        created = new docker.Provider(`${name}-docker`, { host: target.host }, { parent });
        provider = created;
    }
    const opts: pulumi.CustomResourceOptions = { parent, ...(provider ? { provider } : {}) };

    const image = new docker.RemoteImage(`${name}-image`, { name: s.image, keepLocally: true }, opts);
    const labels = [{ label: SITE_LABEL, value: s.siteName }];
    const volume = new docker.Volume(`${name}-volume`, { name: s.volumeName, labels }, opts);
    let network: docker.Network | undefined;
    if (s.network?.create) {
        network = new docker.Network(`${name}-network`, { name: s.network.name, driver: "bridge", labels }, opts);
    }
    const networkName = network ? network.name : s.network?.name;
    const container = new docker.Container(
        `${name}-container`,
        {
            ...containerArgs(s),
            // The image the provider pulled (its id); the pinned reference while the id is not known.
            image: pulumi.all([image.imageId, image.name]).apply(([id, ref]) => id || ref),
            mounts: [{ type: "volume", source: volume.name, target: s.installDir }],
            ...(networkName !== undefined ? { networksAdvanced: [{ name: networkName, ...(s.network!.aliases.length > 0 ? { aliases: s.network!.aliases } : {}) }] } : {}),
        },
        // A fixed name and fixed host ports: a replacement must remove the old container first.
        { ...opts, deleteBeforeReplace: true },
    );

    // The docker CLI of the install command talks to the same daemon as the provider.
    let environment: pulumi.Output<Record<string, string>>;
    if (provider) {
        environment = pulumi.all([provider.host, provider.context]).apply(([host, context]) => dockerEnvironment(host, context));
    } else {
        environment = pulumi.output(dockerEnvironment(s.host, new pulumi.Config("docker").get("context")));
    }
    return { provider: created, image, volume, network, container, environment };
}
