"""Cloud Hypervisor's REST API on a UNIX socket: HTTP/1.1 by hand, standard library only.

`vmm.api.server.ApiServer` listens and serves connections in its own threads;
`vmm.api.routes` turns each request into an `Action` for the control loop
(`vmm.control.Vmm`) and its answer into CH's status codes and JSON bodies;
`openapi.json` (package data) documents every route. Importing this package
costs nothing: the socket listens before anything heavy is loaded.
"""
