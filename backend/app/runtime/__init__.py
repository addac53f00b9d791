"""Running executions: the hand-off to the queue, workers, the graph walk, node runners."""
