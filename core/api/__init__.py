"""The configuration application's HTTP server: the REST API and the web UI in one app."""
