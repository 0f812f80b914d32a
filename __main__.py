"""Pulumi program entry (Pulumi.yaml, runtime python): declares stacks/<stack>.yaml."""

from providers.smtp.pulumi.program import main

main()
