"""Labels that reach the translator from data rather than from code, marked here for extraction.

``pybabel extract -k N_ -k tr`` finds every literal the calculators translate; the names below are passed to
the translator at run time (origin enum names, the demo data set's statuses and priorities), so they are
listed here to land in ``services87.pot``. Names from an imported data set that are not in the catalogs are
shown as stored.
"""

from services87.i18n import N_

ORIGINS = (N_("Unknown"), N_("Email"), N_("SMS"), N_("Fax"), N_("Phone"), N_("Facebook"), N_("Twitter"),
           N_("Internal"), N_("Customer Centre"), N_("E-marketing"), N_("Auto-generated"), N_("Chat"), N_("Form"))
STATUSES = (N_("New"), N_("In progress"), N_("Waiting for customer"), N_("Closed"), N_("Deleted"),
            N_("Open"), N_("Postponed"), N_("Waiting"), N_("Merged"))
PRIORITIES = (N_("Low"), N_("Medium"), N_("High"), N_("Critical"))
