"""Who is told about an alert: the people whose grants cover it — the site managers of its site,
the project managers of its project, and the admins."""

from __future__ import annotations

from tally.people.store import PeopleStore


class Recipients:
    def __init__(self, people: PeopleStore) -> None:
        self.directory = people

    def emails(self, site: str | None, project: str | None) -> tuple[str, ...]:
        covering: set[str] = set()
        for grant in self.directory.list_grants():
            if (
                grant.role == "admin"
                or (grant.role == "site_manager" and site is not None and grant.scope == site)
                or (grant.role == "project_manager" and project is not None and grant.scope == project)
            ):
                covering.add(grant.person_id)
        emails = set()
        for person_id in covering:
            person = self.directory.get_person(person_id)
            if person is not None:
                emails.add(person.email)
        return tuple(sorted(emails))
