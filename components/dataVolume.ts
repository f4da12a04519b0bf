import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { DataConfig } from "./config";
import { serviceLabels } from "./containerSettings";

export interface DataVolumeArgs {
    /** The Docker volume name (e.g. `mysql_volume`). */
    readonly volumeName: string;
    /** The service whose data it holds. */
    readonly service: string;
    readonly data: DataConfig;
    readonly labels: Readonly<Record<string, string>>;
}

/**
 * A named volume that holds a service's data. Unlike the guide's `docker-compose down -v`,
 * `pulumi destroy` keeps it (`retainOnDelete`) unless the stack says otherwise, and a
 * protected stack refuses any plan that would delete it. A kept volume is adopted again
 * by the next `pulumi up`: Docker answers a create for an existing name with that volume.
 */
export function dataVolume(name: string, args: DataVolumeArgs, parent: pulumi.Resource): docker.Volume {
    return new docker.Volume(
        name,
        { name: args.volumeName, labels: serviceLabels(args.labels, args.service) },
        { parent, retainOnDelete: args.data.retainOnDelete, protect: args.data.protect },
    );
}
