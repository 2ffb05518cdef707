"""City platform orders (市级派单): signed inbound orders from the upstream 12345 platform, push-backs."""
