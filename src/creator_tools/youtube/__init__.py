"""YouTube Data API plumbing shared by cs-publish and cs-stats: OAuth tokens (`auth`), a service built from
the discovery document shipped with google-api-python-client that can point at any endpoint (`client`),
the per-day quota ledger (`quota`), the upload ledger (`ledger`) and the crash-safe resumable upload
(`upload`). google* modules are imported inside functions, so importing this package stays cheap."""
