"""振分 (routing to insurers), the insurer portal and 過誤 (returns from insurers)."""
