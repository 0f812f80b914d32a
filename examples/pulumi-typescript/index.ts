// stacks/example.yaml as a Pulumi TypeScript program, through the native provider
// (`pulumi-resource-smtp-iac`, found on PATH) and the hand-written SDK in ./sdk.
// The same stack as examples/pulumi-yaml/Pulumi.yaml.

import * as pulumi from "@pulumi/pulumi";
import * as smtp from "./sdk";

const config = new pulumi.Config();

// One explicit provider: where the records go and how every write is checked first. The store's
// encryption key comes from SMTP_IAC_STORE_KEY unless `storeKey` is set here (from a secret).
const provider = new smtp.Provider("smtp", {
    store: config.get("smtpStore") ?? "sqlite:///smtp-iac.db",
    verify: { mode: "send", to: "smtp-checks@example.com", timeoutSeconds: 15 },
});
const opts = { provider };

// The `sendgrid` relay of stacks/example.yaml: complete settings that several scopes share.
const sendgrid = {
    host: "smtp.sendgrid.net",
    port: 587,
    tls: true, // STARTTLS on 587
    username: "apikey",
    password: config.requireSecret("sendgridApiKey"),
    sender: "no-reply@example.com",
};

const controller = new smtp.SmtpSettings("controller", { address: "controller", ...sendgrid }, opts);

const acme = new smtp.SmtpSettings(
    "acme",
    {
        address: "partners/acme",
        host: "email-smtp.eu-west-1.amazonaws.com",
        port: 465,
        tls: true, // implicit TLS on 465
        username: "AKIAEXAMPLE",
        password: config.requireSecret("acmeSmtpPassword"),
        sender: "noreply@acme.example",
    },
    opts,
);

new smtp.SmtpSettings(
    "acmeResearch",
    {
        address: "partners/acme/organizations/acme-research",
        host: "relay.research.acme.example",
        port: 587,
        tls: true,
        tlsMode: "starttls",
        username: "research-mailer",
        password: config.requireSecret("researchSmtpPassword"),
    },
    opts,
);

// `smtp: inherit`: no override at the scope; acme-sales uses the partner's relay.
const acmeSales = new smtp.SmtpInheritance(
    "acmeSales",
    { address: "partners/acme/organizations/acme-sales" },
    { ...opts, dependsOn: [acme] },
);

// globex: the sendgrid relay with its own sender and API key.
new smtp.SmtpSettings(
    "globex",
    {
        ...sendgrid,
        address: "partners/globex",
        sender: "no-reply@globex.example",
        password: config.requireSecret("globexSendgridApiKey"),
    },
    opts,
);

// initech uses the platform default; its organization initech-hq has its own relay.
new smtp.SmtpInheritance("initech", { address: "partners/initech" }, { ...opts, dependsOn: [controller] });

new smtp.SmtpSettings(
    "initechHq",
    {
        address: "partners/initech/organizations/initech-hq",
        host: "smtp.office365.com",
        port: 587,
        tls: true,
        username: "mailer@initech.example",
        password: config.requireSecret("initechSmtpPassword"),
    },
    opts,
);

// What acme-sales sends with, read after its inheritance is in place. Never a password.
const acmeSalesEffective = smtp.getEffectiveSettingsOutput({ organization: acmeSales.address }, { provider });

export const acmeSalesTier = acmeSalesEffective.tier; // partner
export const acmeSalesSource = acmeSalesEffective.source; // partners/acme
export const acmeSalesHost = acmeSalesEffective.host;
export const acmeSalesChain = acmeSalesEffective.chain;
export const acmeVersion = acme.version;
export const acmePasswordFingerprint = acme.passwordFingerprint;
