"""Infrastructure-as-code providers. Each subpackage manages one kind of platform setting."""
