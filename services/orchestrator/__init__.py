"""The orchestrator: request events in, photos fetched and sent through the model services, result out."""
