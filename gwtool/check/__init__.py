"""``gwtool check``: conformance verdicts for a gateway (``gateway_suite``) and a service
(``service_suite``), built from the protocol definition's tables."""
