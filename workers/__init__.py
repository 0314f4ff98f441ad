"""Background work: the Dramatiq broker, its actors and the scheduler that sweeps due work."""
