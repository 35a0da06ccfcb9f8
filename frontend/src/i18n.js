// UI strings of the status page in the six languages the API speaks. The data labels (panel titles,
// categories, weekdays...) are not here: they arrive localized from the REST twin (SO-Language).
export const LANGUAGES = {
  en: "English", de: "Deutsch", nb: "Norsk bokmål", sv: "Svenska", da: "Dansk", nl: "Nederlands",
};

const S = {
  en: {
    pollFailed: "Polling failed too: {msg}",
    entered: "Entered", answered: "Answered", abandoned: "Abandoned", avgWait: "Average wait",
    pollingNoBayeux: "Polling (no live connection)", pollingOff: "Polling (live updates off)",
    pollingRefused: "Polling (server refused the live subscription: {msg})", refusedCell: "refused",
    refused: "The server refused {n} statistic(s): {list}", requestFailed: "Request failed (HTTP {status}): {msg}",
    subscriptionRefused: "Live updates are off: the server refused the subscription. {msg}",
    title: "Customer Service Status Page", signIn: "Sign in", signOut: "Sign out", login: "User name",
    password: "Password", badLogin: "Unknown user name or wrong password.", tooMany: "Too many attempts; try again later.",
    live: "Live", reconnecting: "Reconnecting…", connecting: "Connecting…", polling: "Polling (no WebSocket)",
    settings: "Settings", language: "Language", timeZone: "Time zone", panels: "Panels", save: "Save",
    cancel: "Cancel", moveUp: "Move up", moveDown: "Move down", show: "Show", wallboard: "Wallboard",
    genesys: "Agents and queues", agent: "Agent", state: "State", timeInState: "Time in state", queue: "Queue",
    inQueue: "Waiting", serviceLevel: "Service level", readyAgents: "Ready agents",
    aht: "Average handling time", updatedAt: "Updated {time}", noData: "No data", loading: "Loading…",
    saved: "Settings saved.", value: "Value", label: "Label", dataTable: "Figures", connection: "Connection",
    panelUpdated: "Figures updated at {time}", error: "Could not load the figures: {msg}", skip: "Skip to content",
    noAgents: "No agent data yet.", tenant: "All queues", minutes: "min", signedInAs: "Signed in as {name}",
    saveFailed: "Could not save the settings: {msg}",
  },
  de: {
    pollFailed: "Auch die Abfrage schlug fehl: {msg}",
    entered: "Eingegangen", answered: "Angenommen", abandoned: "Abgebrochen", avgWait: "Durchschnittliche Wartezeit",
    pollingNoBayeux: "Abfrage (keine Live-Verbindung)", pollingOff: "Abfrage (Live-Updates aus)",
    pollingRefused: "Abfrage (Server lehnte das Live-Abonnement ab: {msg})", refusedCell: "abgelehnt",
    refused: "Der Server lehnte {n} Statistik(en) ab: {list}",
    requestFailed: "Anfrage fehlgeschlagen (HTTP {status}): {msg}",
    subscriptionRefused: "Keine Live-Updates: der Server lehnte das Abonnement ab. {msg}",
    title: "Kundenservice-Statusseite", signIn: "Anmelden", signOut: "Abmelden", login: "Benutzername",
    password: "Passwort", badLogin: "Unbekannter Benutzername oder falsches Passwort.",
    tooMany: "Zu viele Versuche; bitte später erneut versuchen.", live: "Live", reconnecting: "Verbindung wird wiederhergestellt…",
    connecting: "Verbinde…", polling: "Abfrage (kein WebSocket)", settings: "Einstellungen", language: "Sprache",
    timeZone: "Zeitzone", panels: "Bereiche", save: "Speichern", cancel: "Abbrechen", moveUp: "Nach oben",
    moveDown: "Nach unten", show: "Anzeigen", wallboard: "Übersicht", genesys: "Agenten und Warteschlangen",
    agent: "Agent", state: "Status", timeInState: "Zeit im Status", queue: "Warteschlange", inQueue: "Wartend",
    serviceLevel: "Servicelevel", readyAgents: "Bereite Agenten",
    aht: "Durchschnittliche Bearbeitungszeit", updatedAt: "Aktualisiert {time}", noData: "Keine Daten",
    loading: "Wird geladen…", saved: "Einstellungen gespeichert.", value: "Wert", label: "Bezeichnung",
    dataTable: "Zahlen", connection: "Verbindung", panelUpdated: "Zahlen aktualisiert um {time}",
    error: "Die Zahlen konnten nicht geladen werden: {msg}", skip: "Zum Inhalt springen",
    noAgents: "Noch keine Agentendaten.", tenant: "Alle Warteschlangen", minutes: "Min.",
    signedInAs: "Angemeldet als {name}", saveFailed: "Einstellungen konnten nicht gespeichert werden: {msg}",
  },
  nb: {
    pollFailed: "Jevnlig henting mislyktes også: {msg}",
    entered: "Innkommet", answered: "Besvart", abandoned: "Avbrutt", avgWait: "Gjennomsnittlig ventetid",
    pollingNoBayeux: "Spør jevnlig (ingen direkteforbindelse)", pollingOff: "Spør jevnlig (direkte av)",
    pollingRefused: "Spør jevnlig (serveren avviste abonnementet: {msg})", refusedCell: "avvist",
    refused: "Serveren avviste {n} statistikk(er): {list}", requestFailed: "Forespørselen mislyktes (HTTP {status}): {msg}",
    subscriptionRefused: "Ingen direkteoppdateringer: serveren avviste abonnementet. {msg}",
    title: "Statusside for kundeservice", signIn: "Logg inn", signOut: "Logg ut", login: "Brukernavn",
    password: "Passord", badLogin: "Ukjent brukernavn eller feil passord.", tooMany: "For mange forsøk; prøv igjen senere.",
    live: "Direkte", reconnecting: "Kobler til på nytt…", connecting: "Kobler til…", polling: "Spør jevnlig (ingen WebSocket)",
    settings: "Innstillinger", language: "Språk", timeZone: "Tidssone", panels: "Paneler", save: "Lagre",
    cancel: "Avbryt", moveUp: "Flytt opp", moveDown: "Flytt ned", show: "Vis", wallboard: "Oversikt",
    genesys: "Agenter og køer", agent: "Agent", state: "Status", timeInState: "Tid i status", queue: "Kø",
    inQueue: "Venter", serviceLevel: "Servicenivå", readyAgents: "Ledige agenter",
    aht: "Gjennomsnittlig behandlingstid", updatedAt: "Oppdatert {time}", noData: "Ingen data", loading: "Laster…",
    saved: "Innstillingene er lagret.", value: "Verdi", label: "Etikett", dataTable: "Tall", connection: "Tilkobling",
    panelUpdated: "Tallene ble oppdatert {time}", error: "Kunne ikke hente tallene: {msg}", skip: "Gå til innholdet",
    noAgents: "Ingen agentdata ennå.", tenant: "Alle køer", minutes: "min", signedInAs: "Logget inn som {name}",
    saveFailed: "Kunne ikke lagre innstillingene: {msg}",
  },
  sv: {
    pollFailed: "Även hämtningen misslyckades: {msg}",
    entered: "Inkomna", answered: "Besvarade", abandoned: "Avbrutna", avgWait: "Genomsnittlig väntetid",
    pollingNoBayeux: "Hämtar regelbundet (ingen liveanslutning)", pollingOff: "Hämtar regelbundet (live av)",
    pollingRefused: "Hämtar regelbundet (servern avvisade prenumerationen: {msg})", refusedCell: "avvisad",
    refused: "Servern avvisade {n} statistik: {list}", requestFailed: "Begäran misslyckades (HTTP {status}): {msg}",
    subscriptionRefused: "Inga liveuppdateringar: servern avvisade prenumerationen. {msg}",
    title: "Statussida för kundtjänst", signIn: "Logga in", signOut: "Logga ut", login: "Användarnamn",
    password: "Lösenord", badLogin: "Okänt användarnamn eller fel lösenord.", tooMany: "För många försök; försök igen senare.",
    live: "Live", reconnecting: "Återansluter…", connecting: "Ansluter…", polling: "Hämtar regelbundet (ingen WebSocket)",
    settings: "Inställningar", language: "Språk", timeZone: "Tidszon", panels: "Paneler", save: "Spara",
    cancel: "Avbryt", moveUp: "Flytta upp", moveDown: "Flytta ned", show: "Visa", wallboard: "Översikt",
    genesys: "Agenter och köer", agent: "Agent", state: "Status", timeInState: "Tid i status", queue: "Kö",
    inQueue: "Väntar", serviceLevel: "Servicenivå", readyAgents: "Lediga agenter",
    aht: "Genomsnittlig hanteringstid", updatedAt: "Uppdaterad {time}", noData: "Inga data", loading: "Laddar…",
    saved: "Inställningarna har sparats.", value: "Värde", label: "Etikett", dataTable: "Siffror", connection: "Anslutning",
    panelUpdated: "Siffrorna uppdaterades {time}", error: "Kunde inte hämta siffrorna: {msg}", skip: "Hoppa till innehållet",
    noAgents: "Inga agentdata ännu.", tenant: "Alla köer", minutes: "min", signedInAs: "Inloggad som {name}",
    saveFailed: "Kunde inte spara inställningarna: {msg}",
  },
  da: {
    pollFailed: "Også hentningen mislykkedes: {msg}",
    entered: "Indgået", answered: "Besvaret", abandoned: "Afbrudt", avgWait: "Gennemsnitlig ventetid",
    pollingNoBayeux: "Henter jævnligt (ingen liveforbindelse)", pollingOff: "Henter jævnligt (live slået fra)",
    pollingRefused: "Henter jævnligt (serveren afviste abonnementet: {msg})", refusedCell: "afvist",
    refused: "Serveren afviste {n} statistik(ker): {list}", requestFailed: "Forespørgslen mislykkedes (HTTP {status}): {msg}",
    subscriptionRefused: "Ingen liveopdateringer: serveren afviste abonnementet. {msg}",
    title: "Statusside for kundeservice", signIn: "Log ind", signOut: "Log ud", login: "Brugernavn",
    password: "Adgangskode", badLogin: "Ukendt brugernavn eller forkert adgangskode.", tooMany: "For mange forsøg; prøv igen senere.",
    live: "Live", reconnecting: "Genopretter forbindelse…", connecting: "Forbinder…", polling: "Henter jævnligt (ingen WebSocket)",
    settings: "Indstillinger", language: "Sprog", timeZone: "Tidszone", panels: "Paneler", save: "Gem",
    cancel: "Annuller", moveUp: "Flyt op", moveDown: "Flyt ned", show: "Vis", wallboard: "Oversigt",
    genesys: "Agenter og køer", agent: "Agent", state: "Status", timeInState: "Tid i status", queue: "Kø",
    inQueue: "Venter", serviceLevel: "Serviceniveau", readyAgents: "Ledige agenter",
    aht: "Gennemsnitlig behandlingstid", updatedAt: "Opdateret {time}", noData: "Ingen data", loading: "Indlæser…",
    saved: "Indstillingerne er gemt.", value: "Værdi", label: "Etiket", dataTable: "Tal", connection: "Forbindelse",
    panelUpdated: "Tallene blev opdateret {time}", error: "Kunne ikke hente tallene: {msg}", skip: "Gå til indholdet",
    noAgents: "Ingen agentdata endnu.", tenant: "Alle køer", minutes: "min", signedInAs: "Logget ind som {name}",
    saveFailed: "Kunne ikke gemme indstillingerne: {msg}",
  },
  nl: {
    pollFailed: "Ook het ophalen mislukte: {msg}",
    entered: "Binnengekomen", answered: "Beantwoord", abandoned: "Afgebroken", avgWait: "Gemiddelde wachttijd",
    pollingNoBayeux: "Periodiek ophalen (geen liveverbinding)", pollingOff: "Periodiek ophalen (live uit)",
    pollingRefused: "Periodiek ophalen (server weigerde het abonnement: {msg})", refusedCell: "geweigerd",
    refused: "De server weigerde {n} statistiek(en): {list}", requestFailed: "Verzoek mislukt (HTTP {status}): {msg}",
    subscriptionRefused: "Geen live-updates: de server weigerde het abonnement. {msg}",
    title: "Statuspagina klantenservice", signIn: "Aanmelden", signOut: "Afmelden", login: "Gebruikersnaam",
    password: "Wachtwoord", badLogin: "Onbekende gebruikersnaam of onjuist wachtwoord.", tooMany: "Te veel pogingen; probeer het later opnieuw.",
    live: "Live", reconnecting: "Opnieuw verbinden…", connecting: "Verbinden…", polling: "Periodiek ophalen (geen WebSocket)",
    settings: "Instellingen", language: "Taal", timeZone: "Tijdzone", panels: "Panelen", save: "Opslaan",
    cancel: "Annuleren", moveUp: "Omhoog", moveDown: "Omlaag", show: "Tonen", wallboard: "Overzicht",
    genesys: "Agenten en wachtrijen", agent: "Agent", state: "Status", timeInState: "Tijd in status", queue: "Wachtrij",
    inQueue: "Wachtend", serviceLevel: "Serviceniveau", readyAgents: "Beschikbare agenten",
    aht: "Gemiddelde afhandeltijd", updatedAt: "Bijgewerkt {time}", noData: "Geen gegevens", loading: "Laden…",
    saved: "Instellingen opgeslagen.", value: "Waarde", label: "Label", dataTable: "Cijfers", connection: "Verbinding",
    panelUpdated: "Cijfers bijgewerkt om {time}", error: "De cijfers konden niet worden geladen: {msg}", skip: "Naar de inhoud",
    noAgents: "Nog geen agentgegevens.", tenant: "Alle wachtrijen", minutes: "min", signedInAs: "Aangemeld als {name}",
    saveFailed: "Instellingen konden niet worden opgeslagen: {msg}",
  },
};

let current = "en";

export function setLanguage(lang) {
  current = S[lang] ? lang : "en";
  document.documentElement.lang = current;
}

export function language() {
  return current;
}

export function t(key, vars) {
  let text = (S[current] && S[current][key]) || S.en[key] || key;
  if (vars) {
    for (const [k, v] of Object.entries(vars)) text = text.replace("{" + k + "}", v);
  }
  return text;
}

// Apply translations to every element with data-i18n (text) / data-i18n-attr ("attr:key,attr:key").
export function translateDom(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(",")) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr, t(key));
    }
  }
  document.title = t("title");
}
