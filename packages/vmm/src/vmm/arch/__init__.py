"""x86-64 platform pieces of the VMM: memory layout, CPUID policy, MP table, boot registers."""
