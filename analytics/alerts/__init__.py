"""Customer SMS alerts about incidents, and what each customer muted."""
