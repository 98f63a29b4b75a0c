"""gwtool: see and poke the wire of a websocket-gateway microservice system."""

__version__ = "0.1.0"
