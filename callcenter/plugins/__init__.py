"""Capabilities of the contact center, one package each (能力插件).

Every package here is a plugin: it declares what it adds (CLI commands, API routers, worker loops,
long-running services, ports it provides) in its ``plugin.py`` manifest, registered once as an
entry point of the ``callcenter.plugins`` group in ``pyproject.toml``. The kernel (everything in
``callcenter`` outside this package) never imports a plugin; plugins talk to each other only through
the kernel's ports.
"""
