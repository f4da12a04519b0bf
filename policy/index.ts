import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

// Loaded by `pulumi preview|up --policy-pack policy` (see the package.json scripts and the CI workflows).
new PolicyPack("smart-building", { policies });
