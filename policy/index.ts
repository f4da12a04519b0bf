import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

// Loaded by `pulumi preview|up --policy-pack policy` (see the package.json scripts and the CI workflows),
// run from this folder; @pulumi/policy reads the pack's version from ./package.json, whose name is this one.
new PolicyPack("smart-building", { policies });
