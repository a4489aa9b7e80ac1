"""The web console (`ticketledger serve`): the live at-risk queue, breach dashboards, ticket,
asset and statement pages, each user seeing only what its role allows.

Modules: `users` (the users file, argon2 hashes), `scope` (who sees what: the one place that
limits every query), `views` (reading the views beside a follower, never writing them),
`queries` (every query a page runs, each taking a Scope), `live` (the follower's alerts as
server-sent events), `asof` (as-of pages: bounded background replays into cached files),
`documents` (the seam to the dispute report and the monthly statement), `charts` (Vega-Lite
specs built with Altair), `app` (the Starlette application: routes, sessions, CSRF, CSP).
"""
