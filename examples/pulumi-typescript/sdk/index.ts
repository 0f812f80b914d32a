// A hand-written TypeScript SDK for the `smtp-iac` Pulumi package (schemas/pulumi-schema.json),
// shaped like the SDKs `pulumi package gen-sdk` writes: one class per resource, typed Args and
// State interfaces, `pulumi.Output` properties, and the schema's camelCase names on the wire.
// tests/pulumi/test_examples.py checks the tokens and names below against the schema.

import * as pulumi from "@pulumi/pulumi";

/** The check run before every write: an SMTP login (default) or a test email. */
export interface VerifyOptionsArgs {
    /** `login` (default), `send` (a test email to `to`) or `off`. */
    mode?: pulumi.Input<string>;
    /** Where the test email goes (mode `send`). */
    to?: pulumi.Input<string>;
    /** The test email's sender; absent: the settings' sender. */
    from?: pulumi.Input<string>;
    /** Seconds before the check gives up (1-120; default 15). */
    timeoutSeconds?: pulumi.Input<number>;
    /** PEM file of extra trusted certificate authorities. */
    caFile?: pulumi.Input<string>;
}

/** The provider's configuration (`smtp-iac:*` config keys for the default provider). */
export interface ProviderArgs {
    /** The store URL (`sqlite:///path`, `postgresql://...` or the settings service's `https://...`). */
    store?: pulumi.Input<string>;
    /** The store's encryption key (default: SMTP_IAC_STORE_KEY). */
    storeKey?: pulumi.Input<string>;
    /** The settings service's token, for an `https://` store (default: SMTP_IAC_TOKEN). */
    token?: pulumi.Input<string>;
    /** The owner name the records are written under; default `pulumi/<project>/<stack>`. */
    owner?: pulumi.Input<string>;
    /** Whether an update may take over a record another owner manages (default: false). */
    adopt?: pulumi.Input<boolean>;
    /** The check run before every write. */
    verify?: pulumi.Input<VerifyOptionsArgs>;
}

/**
 * Where smtp-iac reads and writes SMTP settings, and how it checks them. The engine starts the
 * plugin `pulumi-resource-smtp-iac`, found on PATH.
 */
export class Provider extends pulumi.ProviderResource {
    /** @internal */
    public static readonly __pulumiType = "smtp-iac";

    public static isInstance(obj: any): obj is Provider {
        if (obj === undefined || obj === null) {
            return false;
        }
        return obj["__pulumiType"] === "pulumi:providers:" + Provider.__pulumiType;
    }

    constructor(name: string, args?: ProviderArgs, opts?: pulumi.ResourceOptions) {
        const resourceInputs: pulumi.Inputs = {};
        // Provider inputs travel as strings: non-string values JSON-encoded, as generated SDKs do.
        resourceInputs["store"] = args?.store;
        resourceInputs["storeKey"] = args?.storeKey ? pulumi.secret(args.storeKey) : undefined;
        resourceInputs["token"] = args?.token ? pulumi.secret(args.token) : undefined;
        resourceInputs["owner"] = args?.owner;
        resourceInputs["adopt"] = pulumi.output(args?.adopt).apply(JSON.stringify);
        resourceInputs["verify"] = pulumi.output(args?.verify).apply(JSON.stringify);
        opts = pulumi.mergeOptions(opts, { additionalSecretOutputs: ["storeKey", "token"] });
        super(Provider.__pulumiType, name, resourceInputs, opts);
    }
}

/** The inputs of an SmtpSettings resource. */
export interface SmtpSettingsArgs {
    /** The scope: `controller`, `partners/P` or `partners/P/organizations/O`. Changing it replaces the resource. */
    address: pulumi.Input<string>;
    /** The SMTP server's host name or IP address. */
    host: pulumi.Input<string>;
    /** The SMTP port (587, 465, 25 or 2525, or any in 1-65535). */
    port: pulumi.Input<number>;
    /** Whether the connection is encrypted. */
    tls: pulumi.Input<boolean>;
    /** `starttls` or `implicit`; absent: implicit on port 465, STARTTLS elsewhere. */
    tlsMode?: pulumi.Input<string>;
    /** The SMTP login. */
    username: pulumi.Input<string>;
    /** The SMTP password or API key (a secret). */
    password: pulumi.Input<string>;
    /** The From address mail of this scope is sent with; absent: the platform's. */
    sender?: pulumi.Input<string>;
}

/** The state of an SmtpSettings resource, for `SmtpSettings.get`. */
export interface SmtpSettingsState {
    address?: pulumi.Input<string>;
    host?: pulumi.Input<string>;
    port?: pulumi.Input<number>;
    tls?: pulumi.Input<boolean>;
    tlsMode?: pulumi.Input<string>;
    username?: pulumi.Input<string>;
    password?: pulumi.Input<string>;
    sender?: pulumi.Input<string>;
    version?: pulumi.Input<number>;
    passwordFingerprint?: pulumi.Input<string>;
    managedBy?: pulumi.Input<string>;
    updatedAt?: pulumi.Input<string>;
    updatedBy?: pulumi.Input<string>;
}

/**
 * An SMTP override at one scope, verified (an SMTP login or a test email) before every write.
 * Import with the scope's address: `pulumi import smtp-iac:index:SmtpSettings NAME partners/acme`.
 */
export class SmtpSettings extends pulumi.CustomResource {
    /** @internal */
    public static readonly __pulumiType = "smtp-iac:index:SmtpSettings";

    /** An existing record, by the scope's address (its id). */
    public static get(
        name: string,
        id: pulumi.Input<pulumi.ID>,
        state?: SmtpSettingsState,
        opts?: pulumi.CustomResourceOptions,
    ): SmtpSettings {
        return new SmtpSettings(name, state as any, { ...opts, id: id });
    }

    public static isInstance(obj: any): obj is SmtpSettings {
        if (obj === undefined || obj === null) {
            return false;
        }
        return obj["__pulumiType"] === SmtpSettings.__pulumiType;
    }

    // `declare`: the base constructor sets these; a class field would reset them to undefined.
    declare public readonly address: pulumi.Output<string>;
    declare public readonly host: pulumi.Output<string>;
    declare public readonly port: pulumi.Output<number>;
    declare public readonly tls: pulumi.Output<boolean>;
    declare public readonly tlsMode: pulumi.Output<string | undefined>;
    declare public readonly username: pulumi.Output<string>;
    declare public readonly password: pulumi.Output<string>;
    declare public readonly sender: pulumi.Output<string | undefined>;
    /** The record's version (compare-and-swap: a write names the version it replaces). */
    declare public readonly version: pulumi.Output<number>;
    /** A keyed fingerprint of the stored password; never the password. */
    declare public readonly passwordFingerprint: pulumi.Output<string>;
    declare public readonly managedBy: pulumi.Output<string | undefined>;
    declare public readonly updatedAt: pulumi.Output<string | undefined>;
    declare public readonly updatedBy: pulumi.Output<string | undefined>;

    constructor(name: string, args: SmtpSettingsArgs, opts?: pulumi.CustomResourceOptions);
    constructor(
        name: string,
        argsOrState?: SmtpSettingsArgs | SmtpSettingsState,
        opts?: pulumi.CustomResourceOptions,
    ) {
        const resourceInputs: pulumi.Inputs = {};
        opts = opts || {};
        if (opts.id) {
            const state = argsOrState as SmtpSettingsState | undefined;
            resourceInputs["address"] = state?.address;
            resourceInputs["host"] = state?.host;
            resourceInputs["port"] = state?.port;
            resourceInputs["tls"] = state?.tls;
            resourceInputs["tlsMode"] = state?.tlsMode;
            resourceInputs["username"] = state?.username;
            resourceInputs["password"] = state?.password;
            resourceInputs["sender"] = state?.sender;
            resourceInputs["version"] = state?.version;
            resourceInputs["passwordFingerprint"] = state?.passwordFingerprint;
            resourceInputs["managedBy"] = state?.managedBy;
            resourceInputs["updatedAt"] = state?.updatedAt;
            resourceInputs["updatedBy"] = state?.updatedBy;
        } else {
            const args = argsOrState as SmtpSettingsArgs | undefined;
            for (const key of ["address", "host", "port", "tls", "username", "password"] as const) {
                if (args?.[key] === undefined && !opts.urn) {
                    throw new Error(`Missing required property '${key}'`);
                }
            }
            resourceInputs["address"] = args?.address;
            resourceInputs["host"] = args?.host;
            resourceInputs["port"] = args?.port;
            resourceInputs["tls"] = args?.tls;
            resourceInputs["tlsMode"] = args?.tlsMode;
            resourceInputs["username"] = args?.username;
            resourceInputs["password"] = args?.password ? pulumi.secret(args.password) : undefined;
            resourceInputs["sender"] = args?.sender;
            resourceInputs["version"] = undefined /*out*/;
            resourceInputs["passwordFingerprint"] = undefined /*out*/;
            resourceInputs["managedBy"] = undefined /*out*/;
            resourceInputs["updatedAt"] = undefined /*out*/;
            resourceInputs["updatedBy"] = undefined /*out*/;
        }
        // The password stays a secret in the state whatever the provider returns.
        opts = pulumi.mergeOptions(opts, { additionalSecretOutputs: ["password"] });
        super(SmtpSettings.__pulumiType, name, resourceInputs, opts);
    }
}

/** The inputs of an SmtpInheritance resource. */
export interface SmtpInheritanceArgs {
    /** The scope: `controller`, `partners/P` or `partners/P/organizations/O`. Changing it replaces the resource. */
    address: pulumi.Input<string>;
}

/** The state of an SmtpInheritance resource, for `SmtpInheritance.get`. */
export interface SmtpInheritanceState {
    address?: pulumi.Input<string>;
    removedVersion?: pulumi.Input<number>;
    overridePresent?: pulumi.Input<boolean>;
}

/**
 * The absence of an override at one scope: the scope inherits from the tier above. Creating it
 * removes an override that is there; deleting it changes nothing.
 */
export class SmtpInheritance extends pulumi.CustomResource {
    /** @internal */
    public static readonly __pulumiType = "smtp-iac:index:SmtpInheritance";

    public static get(
        name: string,
        id: pulumi.Input<pulumi.ID>,
        state?: SmtpInheritanceState,
        opts?: pulumi.CustomResourceOptions,
    ): SmtpInheritance {
        return new SmtpInheritance(name, state as any, { ...opts, id: id });
    }

    public static isInstance(obj: any): obj is SmtpInheritance {
        if (obj === undefined || obj === null) {
            return false;
        }
        return obj["__pulumiType"] === SmtpInheritance.__pulumiType;
    }

    declare public readonly address: pulumi.Output<string>;
    /** The version of the override it removed, if any. */
    declare public readonly removedVersion: pulumi.Output<number | undefined>;
    /** Whether an override is there now (a refresh reports one that appeared). */
    declare public readonly overridePresent: pulumi.Output<boolean | undefined>;

    constructor(name: string, args: SmtpInheritanceArgs, opts?: pulumi.CustomResourceOptions);
    constructor(
        name: string,
        argsOrState?: SmtpInheritanceArgs | SmtpInheritanceState,
        opts?: pulumi.CustomResourceOptions,
    ) {
        const resourceInputs: pulumi.Inputs = {};
        opts = opts || {};
        if (opts.id) {
            const state = argsOrState as SmtpInheritanceState | undefined;
            resourceInputs["address"] = state?.address;
            resourceInputs["removedVersion"] = state?.removedVersion;
            resourceInputs["overridePresent"] = state?.overridePresent;
        } else {
            const args = argsOrState as SmtpInheritanceArgs | undefined;
            if (args?.address === undefined && !opts.urn) {
                throw new Error("Missing required property 'address'");
            }
            resourceInputs["address"] = args?.address;
            resourceInputs["removedVersion"] = undefined /*out*/;
            resourceInputs["overridePresent"] = undefined /*out*/;
        }
        super(SmtpInheritance.__pulumiType, name, resourceInputs, opts);
    }
}

/** The argument of getEffectiveSettings. */
export interface GetEffectiveSettingsArgs {
    /** `partners/P/organizations/O`, `P/O` or an organization id unique across partners. */
    organization: string;
}

/** The argument of getEffectiveSettingsOutput (may be an output of another resource). */
export interface GetEffectiveSettingsOutputArgs {
    organization: pulumi.Input<string>;
}

/** The SMTP settings in force for an organization, and the tier they come from (never a password). */
export interface GetEffectiveSettingsResult {
    /** The organization's address. */
    readonly organization: string;
    /** The address whose record applies; absent: no SMTP settings apply. */
    readonly source?: string;
    /** `organization`, `partner`, `controller` or `none`. */
    readonly tier: string;
    readonly host?: string;
    readonly port?: number;
    readonly tls?: boolean;
    readonly tlsMode?: string;
    readonly username?: string;
    readonly sender?: string;
    /** The addresses looked at, in order, ending with the one used. */
    readonly chain: string[];
}

/** The SMTP settings in force for an organization and the tier they come from (never a password). */
export function getEffectiveSettings(
    args: GetEffectiveSettingsArgs,
    opts?: pulumi.InvokeOptions,
): Promise<GetEffectiveSettingsResult> {
    return pulumi.runtime.invoke(
        "smtp-iac:index:getEffectiveSettings",
        {
            organization: args.organization,
        },
        opts,
    );
}

/** getEffectiveSettings for an argument that is an output (it waits for it). */
export function getEffectiveSettingsOutput(
    args: GetEffectiveSettingsOutputArgs,
    opts?: pulumi.InvokeOutputOptions,
): pulumi.Output<GetEffectiveSettingsResult> {
    return pulumi.runtime.invokeOutput(
        "smtp-iac:index:getEffectiveSettings",
        {
            organization: args.organization,
        },
        opts,
    );
}
