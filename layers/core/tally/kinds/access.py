"""Which site a kind definition is made for, given the caller's fence for `registry:write`.

A site key defines kinds for its own site; a person through their grants: an admin for any site,
a site manager for the sites they manage. A new kind names its site (`site`), or takes the only
one the fence reaches; changing a kind acts for the site that defined it, so an admin may evolve
any kind and a site manager only their sites' kinds.
"""

from __future__ import annotations

from tally.domain.errors import NotAllowed, Unusable
from tally.people.authz import Fence


def defining_site(fence: Fence, requested: str | None, owner: str | None) -> str:
    """The site to define for: `requested`, else the existing kind's `owner`, else the fence's
    only site. NotAllowed when the fence does not reach it; Unprocessable when none can be chosen."""
    if requested is not None and owner is not None and requested != owner:
        raise NotAllowed(f"this kind was defined by site {owner!r}: only it may change it")
    site = requested or owner
    if site is None:
        sites = fence.sites()
        if fence.everything or len(sites) != 1:
            raise Unusable("name the site the kind is defined for: ?site=NAME (--site)")
        (site,) = sites
    if not fence.allows_site(site):
        raise NotAllowed(f"no grant of this caller reaches site {site!r}: it cannot define kinds there")
    return site
