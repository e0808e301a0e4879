"""Extensions of the example application."""
