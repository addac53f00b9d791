"""PasteTrader backend: workflow models, schedules and the engine that fires them."""
