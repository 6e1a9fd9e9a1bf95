"""The insurer's client: the SDK, the `picloss` command line, the HTML report and the adjuster's review page.
Imports the protocol and the domain only (never the platform or an engine): `pip install 'picloss[client]'`
needs nothing of the server."""
