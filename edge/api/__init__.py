"""The station's local API: HTTP + JSON and a Server-Sent-Events stream, over the station
service (``edge/service``). See docs/api.md; ``openapi.json`` here is the contract.

* :mod:`edge.api.settings` - the ``[api]`` table (address, token, origins, start on scan);
* :mod:`edge.api.server` - the HTTP server, its checks (Host, Origin, token, body) and the stream;
* :mod:`edge.api.routes` - the endpoints and their input checks;
* :mod:`edge.api.client` - a small client (``pibench run`` beside a running station, tests).
"""
