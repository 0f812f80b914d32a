"""Pulumi program entry (Pulumi.yaml, runtime python): declares stacks/<stack>.yaml."""

from smtp_iac.pulumi.program import main

main()
