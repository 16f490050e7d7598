"""The tenant's directory and Intune inventories: users, devices, groups,
service principals and managed devices, generated from the seed.

Design assumptions:

* The inventories hold what the security data points at, so that alerts
  join to them by the keys Defender writes into evidence.  The first users
  are the tenant's user pool (tenant.py), whose ids and UPNs the alerts'
  userEvidence, the risky users and the risk detections carry; every device
  profile with an azureAdDeviceId (the devices alerts' deviceEvidence
  describes) is an Entra device whose deviceId is that id and whose
  displayName is the host part of its deviceDnsName; the service principals
  of the risk detections come first among the service principals, with
  their keyCredentials' keyIds.  Intune's managed devices are the managed
  Entra devices (azureADDeviceId = deviceId) and a few that never
  registered in Entra (the all-zero GUID Intune sends for them).
* Determinism: each collection draws from its own random stream
  ("<seed>/directory/<collection>"), so the security collections draw
  exactly what they drew before the inventories existed.
* Shape: documents hold every property a list can return, id first, the
  others alphabetical (tenant.py's rule).  What only a single GET with
  $select shows (users' aboutMe, birthday...; managed devices' real
  ethernetMacAddress, udid...) is kept beside the document
  (Collection.details), so that no list can leak it.
* Case twins: a few objects whose names differ only in letter case ("Ana",
  "ANA", "ana"), because Graph compares directory strings without case and
  the extension must recheck.
"""

import base64
import uuid

import schema
import timestamps as ts

DAY = ts.TICKS_PER_DAY
HOUR = DAY // 24
MINUTE = HOUR // 60

INTUNE_APP_ID = "0000000a-0000-0000-c000-000000000000"
MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
NO_DEVICE = "00000000-0000-0000-0000-000000000000"   # Intune: not in Entra

#: default counts (the command line's --users ... --managed-devices)
DEFAULT_COUNTS = {
    schema.USERS.name: 250,
    schema.DEVICES.name: 230,
    schema.GROUPS.name: 210,
    schema.SERVICE_PRINCIPALS.name: 220,
    schema.MANAGED_DEVICES.name: 180,
}

FIRST_NAMES = ("Beatriz", "Carlos", "Daniela", "Emil", "Fiona", "Gustavo", "Hana",
               "Ivo", "Jasmin", "Kenji", "Laura", "Miguel", "Nadia", "Oskar", "Paula",
               "Rui", "Sofia", "Thiago", "Ulla", "Vera", "Wojciech", "Yara", "Zofia",
               "Anaïs", "Bongani", "Chiara", "Dagny", "Eitan")
LAST_NAMES = ("Almeida", "Brandt", "Costa", "Dąbrowski", "Eriksen", "Ferreira",
              "Gómez", "Horváth", "Ito", "Jansen", "Kim", "López", "Moreau", "Nakamura",
              "Oliveira", "Pereira", "Quispe", "Rocha", "Schmidt", "Torres", "Usman",
              "Varga", "Weber", "Xu", "Yamamoto", "Zimmermann")
FOLD = str.maketrans({"ï": "i", "ą": "a", "ó": "o", "á": "a", "é": "e", "ç": "c",
                      "ã": "a", "ö": "o", "ü": "u", "ñ": "n", "ø": "o", "ł": "l",
                      "'": ""})
#: users whose display names differ only in letter case
CASE_TWIN_USERS = (("Ana", "ana.one"), ("ANA", "ana.two"), ("ana", "ana.three"))
DEPARTMENTS = ("Finance", "Human Resources", "IT", "Sales", "Marketing", "Legal", "R&D",
               "Security Operations", "Customer Success", "Logística")
JOB_TITLES = ("Analyst", "Senior Engineer", "Accountant", "Sales Manager", "SOC Analyst",
              "Paralegal", "Product Owner", "Intern", "Director of IT",
              "Técnico de Segurança", "Data \"Wrangler\"")
OFFICES = ("Building 4, 2nd floor", "Lisbon HQ", "Remote", "Zürich – Bahnhofstrasse 1",
           "Room 101 & 102")
PLACES = (("Lisbon", "Portugal", "PT", "pt-PT"), ("Zürich", "Switzerland", "CH", "de-CH"),
          ("Redmond", "United States", "US", "en-US"), ("São Paulo", "Brazil", "BR", "pt-BR"),
          ("Tokyo", "Japan", "JP", "ja-JP"), ("Kraków", "Poland", "PL", "pl-PL"),
          ("Montréal", "Canada", "CA", "fr-CA"), ("Lagos", "Nigeria", "NG", "en-US"))
SKUS = ("06ebc4ee-1bb5-47dd-8120-11324bc54e06", "05e9a617-0261-4cee-bb44-138d3ef5d965",
        "66b55226-6b4f-492c-910c-a3b7a3c9d993", "4b9405b0-7788-4568-add1-99614e613b69")
GUEST_DOMAINS = ("fabrikam.com", "example.org", "partner.example")


def generate(tenant, make_rng, counts):
    """{resource name: Collection} of the five inventories of `tenant`."""
    from tenant import Collection          # tenant.py imports this module
    out = {}
    n = counts.get
    users, user_details = _users(tenant, make_rng("directory/users"),
                                 n(schema.USERS.name, 0))
    out[schema.USERS.name] = Collection(schema.USERS, users, user_details)
    managed_target = n(schema.MANAGED_DEVICES.name, 0)
    devices, managed = _devices(tenant, make_rng("directory/devices"),
                                n(schema.DEVICES.name, 0), managed_target)
    out[schema.DEVICES.name] = Collection(schema.DEVICES, devices)
    out[schema.GROUPS.name] = Collection(
        schema.GROUPS, _groups(tenant, make_rng("directory/groups"),
                               n(schema.GROUPS.name, 0)))
    out[schema.SERVICE_PRINCIPALS.name] = Collection(
        schema.SERVICE_PRINCIPALS, _service_principals(
            tenant, make_rng("directory/servicePrincipals"),
            n(schema.SERVICE_PRINCIPALS.name, 0)))
    managed_docs, managed_details = _managed_devices(
        tenant, make_rng("directory/managedDevices"), managed, devices, users,
        managed_target)
    out[schema.MANAGED_DEVICES.name] = Collection(schema.MANAGED_DEVICES, managed_docs,
                                                  managed_details)
    return out


def ordered(resource, values):
    """`values` as a document: "@odata.type" where list items carry it, id,
    then the resource's order; absent keys (optional properties) stay
    absent."""
    doc = {"@odata.type": resource.odata_type} if resource.odata_type else {}
    doc.update((p.name, values[p.name]) for p in resource.properties if p.name in values)
    return doc


def new_entity(tenant, resource, rng, n):
    """(document, single-GET details or None) of one more entity of a
    directory collection (control changes); `n` numbers it."""
    collection = tenant.collection(resource.name)
    if resource is schema.USERS:
        taken = {(d.get("mailNickname") or "").lower() for d in collection.docs}
        given, surname = rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES)
        base = ("%s.%s" % (given, surname)).lower().translate(FOLD)
        local, k = base, 1
        while local in taken:
            k += 1
            local = "%s%d" % (base, k)
        return _user(tenant, rng, ("%s %s" % (given, surname), given, surname, local,
                                   rng.guid(), None, None), False, n)
    if resource is schema.DEVICES:
        spec = _device_spec(rng, rng.weighted(_KINDS), n)
        return _device(tenant, rng, spec, n, False), None
    if resource is schema.GROUPS:
        return _group(tenant, rng, "Team-new-%d" % n, n, set()), None
    return _service_principal(tenant, rng, ("%s %s %d" % (
        rng.pick(("Contoso", "Fabrikam")), rng.pick(_APP_WORDS), n), rng.guid(),
        rng.guid(), [], "Application", True)), None


# --- users -----------------------------------------------------------------------------

def _users(tenant, rng, count):
    """User documents and their single-GET details: the tenant's user pool
    first (alerts, risky users and risk detections point at it), then case
    twins, then generated people (5% guests)."""
    pool = tenant.users
    people = []                 # (display, given, surname, local, id, sid or None)
    taken = set()
    for u in pool:
        local = u["userPrincipalName"].split("@")[0]
        taken.add(local)
        given, _, surname = u["displayName"].partition(" ")
        if "\\" in u["displayName"] or not surname:
            given, surname = None, None
        people.append((u["displayName"], given, surname, local, u["id"], u["sid"],
                       u["accountName"]))
    for display, local in CASE_TWIN_USERS:
        taken.add(local)
        people.append((display, display, None, local, rng.guid(), None, None))
    while len(people) < count:
        given, surname = rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES)
        base = ("%s.%s" % (given, surname)).lower().translate(FOLD)
        local, k = base, 1
        while local in taken:
            k += 1
            local = "%s%d" % (base, k)
        taken.add(local)
        people.append(("%s %s" % (given, surname), given, surname, local, rng.guid(),
                       None, None))
    docs, details = [], []
    for n, person in enumerate(people):
        guest = n >= len(pool) + len(CASE_TWIN_USERS) and rng.chance(0.05)
        doc, detail = _user(tenant, rng, person, guest, n)
        docs.append(doc)
        details.append(detail)
    return docs, details


def _user(tenant, rng, person, guest, n):
    display, given, surname, local, user_id, sid, account = person
    now = tenant.now
    synced = sid is not None or (not guest and rng.chance(0.3))
    city, country, usage, language = rng.pick(PLACES)
    created = rng.between(now - 6 * 365 * DAY, now - 2 * DAY)
    if guest:
        home = rng.pick(GUEST_DOMAINS)
        mail = "%s@%s" % (local, home)
        upn = "%s_%s#EXT#@%s" % (local, home, tenant.domain)
    else:
        mail = "%s@%s" % (local, tenant.mail_domain)
        upn = mail
    mailbox = not guest and rng.chance(0.9)
    if sid is None and synced:
        sid = "S-1-5-21-1004336348-1177238915-682003330-%d" % (5000 + n)
    if account is None and synced:
        account = local[:20]
    values = {
        "id": user_id,
        "accountEnabled": rng.chance(0.93),
        "assignedLicenses": ([] if guest or not rng.chance(0.85) else
                             [{"disabledPlans": [], "skuId": rng.pick(SKUS)}]),
        "businessPhones": [] if rng.chance(0.4) else ["+351 21 555 %04d" % (n % 10000)],
        "city": rng.maybe(0.1, city),
        "companyName": None if guest else rng.maybe(0.3, "Contoso Ltd."),
        "country": rng.maybe(0.1, country),
        "createdDateTime": rng.stamp(created),
        "creationType": "Invitation" if guest else None,
        "department": None if guest else rng.maybe(0.1, rng.pick(DEPARTMENTS)),
        "displayName": display,
        "employeeId": None if guest else rng.maybe(0.2, "E%05d" % (10000 + n)),
        "employeeType": None if guest else rng.maybe(0.4, rng.pick(("Employee", "Contractor",
                                                                     "Employee"))),
        "externalUserState": (rng.pick(("Accepted", "Accepted", "PendingAcceptance"))
                              if guest else None),
        "givenName": given,
        "imAddresses": ["sip:" + upn] if mailbox and rng.chance(0.7) else [],
        "jobTitle": None if guest else rng.maybe(0.15, rng.pick(JOB_TITLES)),
        "lastPasswordChangeDateTime": rng.stamp(rng.between(created, now - HOUR)),
        "mail": mail if (mailbox or guest) else None,
        "mailNickname": local.replace("+", "_") if not guest else
                        "%s_%s#EXT#" % (local, mail.split("@")[1]),
        "mobilePhone": rng.maybe(0.6, "+351 91 %03d %04d" % (n % 1000, (n * 7) % 10000)),
        "officeLocation": rng.maybe(0.3, rng.pick(OFFICES)),
        "onPremisesImmutableId": (base64.b64encode(uuid.UUID(user_id).bytes_le).decode()
                                  if synced else None),
        "onPremisesLastSyncDateTime": (rng.stamp(rng.between(now - 2 * DAY, now - MINUTE))
                                       if synced else None),
        "onPremisesSamAccountName": account if synced else None,
        "onPremisesSecurityIdentifier": sid if synced else None,
        "onPremisesSyncEnabled": True if synced else None,
        "otherMails": [] if not rng.chance(0.1) else ["%s@example.net" % local],
        "preferredLanguage": rng.maybe(0.2, language),
        "proxyAddresses": (["SMTP:" + mail, "smtp:%s@%s" % (local, tenant.domain)]
                           if mailbox else []),
        "surname": surname,
        "usageLocation": None if guest else rng.maybe(0.05, usage),
        "userPrincipalName": upn,
        "userType": "Guest" if guest else "Member",
    }
    if rng.chance(0.85):
        values["signInActivity"] = _sign_in_activity(rng, created, now)
    detail = {
        "aboutMe": rng.maybe(0.8, "I work on 'Graph' & \"SQL\" 🙂"),
        "birthday": "0001-01-01T00:00:00Z",
        "hireDate": ("0001-01-01T00:00:00Z" if rng.chance(0.5)
                     else ts.format_ticks(created - created % DAY, 0)),
        "interests": rng.pick(([], ["hiking", "chess"], ["música"])),
        "mailboxSettings": {"dateFormat": "yyyy-MM-dd",
                            "language": {"displayName": "English (United States)",
                                         "locale": "en-US"},
                            "timeFormat": "HH:mm",
                            "timeZone": rng.pick(("W. Europe Standard Time", "UTC",
                                                  "Pacific Standard Time"))},
        "mySite": None,
        "pastProjects": [],
        "preferredName": rng.maybe(0.7, given),
        "responsibilities": [],
        "schools": rng.pick(([], ["Universidade de Lisboa"])),
        "skills": rng.pick(([], ["KQL", "PostgreSQL"])),
    }
    return ordered(schema.USERS, values), detail


def _sign_in_activity(rng, created, now):
    last = rng.between(max(created, now - 90 * DAY), now - MINUTE)
    non_interactive = rng.between(max(created, now - 30 * DAY), now - MINUTE)
    successful = None if rng.chance(0.1) else min(last, non_interactive)
    return {
        "lastNonInteractiveSignInDateTime": rng.stamp(non_interactive),
        "lastNonInteractiveSignInRequestId": rng.guid(),
        "lastSignInDateTime": rng.stamp(last),
        "lastSignInRequestId": rng.guid(),
        "lastSuccessfulSignInDateTime": None if successful is None else rng.stamp(successful),
        "lastSuccessfulSignInRequestId": None if successful is None else rng.guid(),
    }


# --- devices ---------------------------------------------------------------------------

# osPlatform of a device profile -> (operatingSystem, version format, trust
# type, hardware kind); servers are never managed by Intune here
_PLATFORMS = {
    "Windows11": ("Windows", "10.0.%d.3447", "AzureAd", "windows"),
    "Windows10": ("Windows", "10.0.%d.4291", "ServerAd", "windows"),
    "WindowsServer2022": ("Windows Server", "10.0.%d.2402", "ServerAd", "server"),
    "WindowsServer2019": ("Windows Server", "10.0.%d.5696", "ServerAd", "server"),
    "macOS": ("MacMDM", "14.4.1", "Workplace", "mac"),
    "Linux": ("Linux", "22.04", "Workplace", "server"),
}
_DEFAULT_BUILDS = {"Windows11": 22631, "Windows10": 19045, "WindowsServer2022": 20348,
                   "WindowsServer2019": 17763}
# extra devices: (kind, weight)
_KINDS = (("windows", 55), ("iphone", 15), ("android", 12), ("mac", 10), ("server", 8))
_HARDWARE = {
    "windows": (("Dell Inc.", "Latitude 7440"), ("LENOVO", "ThinkPad T14s Gen 4"),
                ("HP", "EliteBook 840 G10"), ("Microsoft Corporation", "Surface Laptop 5")),
    "server": (("Microsoft Corporation", "Virtual Machine"), ("VMware, Inc.", "VMware7,1")),
    "iphone": (("Apple", "iPhone 15"), ("Apple", "iPhone 13 mini")),
    "android": (("samsung", "SM-S918B"), ("Google", "Pixel 8")),
    "mac": (("Apple", "MacBookPro18,3"), ("Apple", "Mac14,2")),
}


def _devices(tenant, rng, count, managed_target):
    """Entra devices: the alerts' devices that have an Entra id first, two
    case twins, then generated ones.  Returns (documents, the indices of
    the devices Intune manages)."""
    specs = []          # (displayName, hardware kind, OS, version, trust type, device id)
    for profile in tenant.devices:
        if profile["azureAdDeviceId"] is None:
            continue            # not registered in Entra: no device object
        platform = profile["osPlatform"]
        os_name, version, trust, kind = _PLATFORMS[platform]
        if "%d" in version:
            version = version % (profile["osBuild"] or _DEFAULT_BUILDS[platform])
        specs.append((profile["deviceDnsName"].split(".")[0], kind, os_name, version, trust,
                      profile["azureAdDeviceId"]))
    for name in ("KIOSK-02", "kiosk-02"):
        specs.append((name, "windows", "Windows", "10.0.22631.3447", "AzureAd", rng.guid()))
    n = 0
    while len(specs) < count:
        n += 1
        specs.append(_device_spec(rng, rng.weighted(_KINDS), n))
    # Intune manages the workstations and phones, in this order, leaving
    # room for a few devices that never registered in Entra
    unregistered = min(5, managed_target // 20)
    managed = [i for i, spec in enumerate(specs)
               if spec[1] != "server"][:max(0, managed_target - unregistered)]
    managed_set = frozenset(managed)
    docs = [_device(tenant, rng, spec, i, i in managed_set) for i, spec in enumerate(specs)]
    return docs, managed


def _device_spec(rng, kind, n):
    """(displayName, hardware kind, OS, version, trust type, device id)."""
    if kind == "windows":
        name = rng.pick(("DESKTOP-%s" % rng.hex(7).upper(), "LT-%04d" % (1000 + n)))
        return (name, kind, "Windows", "10.0.%s" % rng.pick(
            ("22631.3447", "22621.3296", "19045.4291")),
            rng.pick(("AzureAd", "ServerAd")), rng.guid())
    if kind == "server":
        return ("SRV-APP-%02d" % n, kind, "Windows Server", "10.0.20348.2402", "ServerAd",
                rng.guid())
    if kind == "mac":
        return ("MacBook-Pro-%d" % n, kind, "MacMDM", "14.4.1", "Workplace", rng.guid())
    if kind == "iphone":
        return ("iPhone-%d" % n, kind, "iOS", "17.4.1", "Workplace", rng.guid())
    return ("Android-%d" % n, kind, "Android", "14", "Workplace", rng.guid())


def _device(tenant, rng, spec, i, is_managed):
    display, kind, os_name, version, trust, device_id = spec
    now = tenant.now
    registered = rng.between(now - 3 * 365 * DAY, now - DAY)
    synced = trust == "ServerAd"
    manufacturer, model = rng.pick(_HARDWARE[kind])
    attributes = {a: None for a in schema.EXTENSION_ATTRIBUTES}
    if rng.chance(0.3):
        attributes["extensionAttribute1"] = rng.pick(DEPARTMENTS)
    if rng.chance(0.1):
        attributes["extensionAttribute15"] = "Tier 0 – \"crown jewels\""
    return ordered(schema.DEVICES, {
        "id": rng.guid(),
        "accountEnabled": rng.chance(0.95),
        "approximateLastSignInDateTime": rng.maybe(0.05, rng.stamp(
            rng.between(max(registered, now - 60 * DAY), now - MINUTE))),
        "complianceExpirationDateTime": None,
        "deviceId": device_id,
        "displayName": display,
        "extensionAttributes": attributes,
        "isCompliant": rng.chance(0.85) if is_managed else None,
        "isManaged": is_managed,
        "manufacturer": manufacturer,
        "mdmAppId": INTUNE_APP_ID if is_managed else None,
        "model": model,
        "onPremisesLastSyncDateTime": (rng.stamp(rng.between(now - DAY, now - MINUTE))
                                       if synced else None),
        "onPremisesSecurityIdentifier": ("S-1-5-21-1004336348-1177238915-682003330-%d"
                                         % (20000 + i) if synced else None),
        "onPremisesSyncEnabled": True if synced else None,
        "operatingSystem": os_name,
        "operatingSystemVersion": version,
        "physicalIds": (["[ZTDID]:" + rng.guid(), "[USER-GID]:%s:%d" % (
            rng.guid(), rng.getrandbits(40)), "[GID]:g:%d" % rng.getrandbits(40),
            "[HWID]:h:%d" % rng.getrandbits(40)] if os_name == "Windows" else []),
        "profileType": "RegisteredDevice",
        "registrationDateTime": rng.stamp(registered),
        "systemLabels": [],
        "trustType": trust,
    })


# --- managed devices -------------------------------------------------------------------

_INTUNE_OS = {"Windows": "Windows", "MacMDM": "macOS", "iOS": "iOS", "Android": "Android"}
_CATEGORIES = ("Unknown Category", "Corporate", "BYOD", "Kiosk", "Lab – R&D")


def _managed_devices(tenant, rng, managed, device_docs, users, target):
    """Intune's view: the managed Entra devices, then devices that never
    registered in Entra, up to `target`.  Each has a primary user among the
    tenant's members with a mailbox."""
    docs, details = [], []
    people = [u for u in users if u["userType"] == "Member" and u["mail"]]
    for i in managed:
        if len(docs) >= target:
            break
        device = device_docs[i]
        doc, detail = _managed_device(tenant, rng, device["displayName"],
                                      _INTUNE_OS[device["operatingSystem"]],
                                      device["operatingSystemVersion"], device["manufacturer"],
                                      device["model"], device["deviceId"], True,
                                      rng.pick(people))
        docs.append(doc)
        details.append(detail)
    n = 0
    while len(docs) < target:
        n += 1
        doc, detail = _managed_device(tenant, rng, "iPad-%d" % n, "iOS", "17.4.1", "Apple",
                                      "iPad (10th generation)", NO_DEVICE, False,
                                      rng.pick(people))
        docs.append(doc)
        details.append(detail)
    return docs, details


def _managed_device(tenant, rng, name, os_name, version, manufacturer, model, device_id,
                    registered, user):
    now = tenant.now
    enrolled = rng.between(now - 2 * 365 * DAY, now - 2 * DAY)
    phone = os_name in ("iOS", "Android")
    apple = os_name in ("iOS", "macOS")
    compliance = rng.weighted((("compliant", 80), ("noncompliant", 10),
                               ("inGracePeriod", 4), ("unknown", 3), ("error", 2),
                               ("conflict", 1)))
    doc = ordered(schema.MANAGED_DEVICES, dict(
        id=rng.guid(),
        azureADDeviceId=device_id,
        azureADRegistered=registered,
        complianceState=compliance,
        deviceCategoryDisplayName=rng.pick(_CATEGORIES),
        deviceEnrollmentType=(rng.pick(("windowsAzureADJoin", "windowsAutoEnrollment",
                                        "windowsCoManagement")) if os_name == "Windows"
                              else rng.pick(("appleBulkWithUser", "userEnrollment"))
                              if apple else "userEnrollment"),
        deviceName=name,
        emailAddress=user["mail"],
        enrolledDateTime=rng.stamp(enrolled),
        imei=("35 %06d %06d %d" % (rng.getrandbits(19), rng.getrandbits(19),
                                   rng.getrandbits(3)) if phone else None),
        isEncrypted=rng.chance(0.9),
        isSupervised=apple and rng.chance(0.6),
        jailBroken=("Unknown" if not phone else
                    rng.weighted((("False", 95), ("True", 3), ("Unknown", 2)))),
        lastSyncDateTime=rng.stamp(rng.between(max(enrolled, now - 14 * DAY), now - MINUTE)),
        managedDeviceOwnerType=rng.weighted((("company", 80), ("personal", 18),
                                             ("unknown", 2))),
        managementAgent=("configurationManagerClientMdm" if os_name == "Windows"
                         and rng.chance(0.2) else "mdm"),
        manufacturer=manufacturer,
        model=model,
        operatingSystem=os_name,
        osVersion=version,
        partnerReportedThreatState=rng.weighted((("unknown", 50), ("activated", 20),
                                                 ("secured", 25), ("highSeverity", 3),
                                                 ("compromised", 2))),
        serialNumber=rng.hex(12).upper(),
        userDisplayName=user["displayName"],
        userId=user["id"],
        userPrincipalName=user["userPrincipalName"],
        wiFiMacAddress=rng.hex(12),
        **schema.MANAGED_DEVICES.directory.list_defaults))
    detail = {
        "activationLockBypassCode": rng.hex(20).upper() if apple and phone else None,
        "ethernetMacAddress": None if phone else rng.hex(12),
        "iccid": "8935 1%015d" % rng.getrandbits(48) if phone else None,
        "notes": rng.maybe(0.7, "Asset tag #%d – 'loaner' & spare" % rng.getrandbits(12)),
        "physicalMemoryInBytes": rng.pick((8, 16, 32)) << 30,
        "udid": rng.hex(40) if apple else None,
    }
    return doc, detail


# --- groups ----------------------------------------------------------------------------

_GROUP_NAMES = ("All Company", "SG-Finance", "SG-IT Admins", "Project Falcon",
                "Équipe Lisboa", "営業チーム", "SOC Team", "soc team", "Tier 0 Admins",
                "All Windows devices", "M365 \"Pilot\" Users", "R&D – Labs")


def _groups(tenant, rng, count):
    names = list(_GROUP_NAMES)
    n = 0
    while len(names) < count:
        n += 1
        names.append("%s-%03d" % (rng.pick(("Team", "Project", "SG", "DL", "Dyn")), n))
    nicknames = set()
    return [_group(tenant, rng, name, n, nicknames) for n, name in enumerate(names[:count])]


def _group(tenant, rng, name, n, nicknames):
    """One group; `nicknames` (lower case) keeps mailNickname unique."""
    now = tenant.now
    kind = ("unified" if name.startswith(("Project", "Équipe", "All Company", "Team"))
            else "dynamic" if name.startswith(("All Windows", "Dyn"))
            else "distribution" if name.startswith("DL")
            else "security")
    nickname = "".join(c for c in name.translate(FOLD) if c.isalnum() and c.isascii())
    nickname = nickname or "group%d" % n
    if nickname.lower() in nicknames:
        nickname += "%d" % n
    nicknames.add(nickname.lower())
    mail_enabled = kind in ("unified", "distribution")
    synced = kind == "security" and rng.chance(0.4)
    created = rng.between(now - 5 * 365 * DAY, now - DAY)
    return ordered(schema.GROUPS, {
        "id": rng.guid(),
        "assignedLicenses": ([{"disabledPlans": [], "skuId": rng.pick(SKUS)}]
                             if kind == "security" and rng.chance(0.2) else []),
        "classification": rng.maybe(0.8, rng.pick(("Confidential", "General"))),
        "createdDateTime": rng.stamp(created),
        "description": rng.maybe(0.3, "Members of '%s' & friends" % name),
        "displayName": name,
        "expirationDateTime": None,
        "groupTypes": (["Unified"] if kind == "unified" else
                       ["DynamicMembership"] if kind == "dynamic" else []),
        "isAssignableToRole": True if name.startswith("Tier 0") else None,
        "licenseProcessingState": (None if kind != "security" else {
            "state": "QueuedForProcessing" if rng.chance(0.05) else "ProcessingComplete"}),
        "mail": "%s@%s" % (nickname, tenant.mail_domain) if mail_enabled else None,
        "mailEnabled": mail_enabled,
        "mailNickname": nickname,
        "membershipRule": ('(device.deviceOSType -eq "Windows")' if kind == "dynamic"
                           else None),
        "membershipRuleProcessingState": "On" if kind == "dynamic" else None,
        "onPremisesLastSyncDateTime": (rng.stamp(rng.between(now - DAY, now - MINUTE))
                                       if synced else None),
        "onPremisesSecurityIdentifier": ("S-1-5-21-1004336348-1177238915-682003330-%d"
                                         % (40000 + n) if synced else None),
        "onPremisesSyncEnabled": True if synced else None,
        "proxyAddresses": (["SMTP:%s@%s" % (nickname, tenant.mail_domain)]
                           if mail_enabled else []),
        "renewedDateTime": rng.stamp(rng.between(created, now - MINUTE)),
        "securityEnabled": kind in ("security", "dynamic"),
        "securityIdentifier": "S-1-12-1-%d-%d-%d-%d" % tuple(
            rng.getrandbits(31) for _ in range(4)),
        "visibility": ("Private" if kind == "unified" and rng.chance(0.5) else
                       "Public" if kind == "unified" else None),
    })


# --- service principals ----------------------------------------------------------------

_FIRST_PARTY = (("Microsoft Graph", "00000003-0000-0000-c000-000000000000"),
                ("Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000"),
                ("Office 365 SharePoint Online", "00000003-0000-0ff1-ce00-000000000000"),
                ("Microsoft Intune", INTUNE_APP_ID),
                ("Windows Azure Active Directory", "00000002-0000-0000-c000-000000000000"),
                ("Microsoft Teams", "1fec8e78-bce4-4aaf-ab1b-5451cc387264"),
                ("Azure Portal", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),
                ("WindowsDefenderATP", "fc780465-2017-40d4-a0c5-307022471b92"))
_APP_WORDS = ("Payroll", "CRM", "Backup", "Sync", "Reporting", "Ticketing", "Scanner",
              "Portal", "Connector", "Bot")


def _service_principals(tenant, rng, count):
    """The risk detections' service principals first (with their keyIds),
    two case twins, first-party apps, managed identities, then apps."""
    specs = [(sp["displayName"], sp["appId"], sp["id"], sp["keyIds"], "Application", True)
             for sp in tenant.service_principals]
    specs += [("Reporting App", rng.guid(), rng.guid(), [], "Application", True),
              ("reporting app", rng.guid(), rng.guid(), [], "Application", True)]
    specs += [(name, app_id, rng.guid(), [], "Application", False)
              for name, app_id in _FIRST_PARTY]
    n = 0
    while len(specs) < count:
        n += 1
        if rng.chance(0.15):
            specs.append(("mi-%s-%02d" % (rng.pick(_APP_WORDS).lower(), n), rng.guid(),
                          rng.guid(), [], "ManagedIdentity", True))
        else:
            specs.append(("%s %s %d" % (rng.pick(("Contoso", "Fabrikam", "Northwind")),
                                       rng.pick(_APP_WORDS), n), rng.guid(), rng.guid(),
                          [rng.guid()] if rng.chance(0.3) else [], "Application", True))
    return [_service_principal(tenant, rng, spec)
            for spec in specs[:max(count, len(tenant.service_principals))]]


def _service_principal(tenant, rng, spec):
    name, app_id, sp_id, key_ids, sp_type, own = spec
    now = tenant.now
    start = rng.between(now - 700 * DAY, now - 30 * DAY)
    keys = [{"customKeyIdentifier": rng.hex(40).upper(), "displayName": "CN=%s" % name,
             "endDateTime": ts.format_ticks(start + 730 * DAY, 0),
             "key": None, "keyId": key_id,
             "startDateTime": ts.format_ticks(start, 0),
             "type": "AsymmetricX509Cert", "usage": "Verify"} for key_id in key_ids]
    secrets = ([] if sp_type != "Application" or not own or rng.chance(0.6) else
               [{"customKeyIdentifier": None, "displayName": "ci secret",
                 "endDateTime": ts.format_ticks(start + 365 * DAY, 0),
                 "hint": rng.hex(3), "keyId": rng.guid(), "secretText": None,
                 "startDateTime": ts.format_ticks(start, 0)}])
    return ordered(schema.SERVICE_PRINCIPALS, {
        "id": sp_id,
        "accountEnabled": rng.chance(0.95),
        "appDisplayName": name,
        "appId": app_id,
        "appOwnerOrganizationId": tenant.tenant_id if own else MICROSOFT_TENANT,
        "appRoleAssignmentRequired": rng.chance(0.3),
        "description": rng.maybe(0.7, "Service principal of '%s' & co." % name),
        "displayName": name,
        "homepage": rng.maybe(0.5, "https://%s.example/home?a=1&b=2" % app_id[:8]),
        "keyCredentials": keys,
        "notes": rng.maybe(0.85, "Owner: soc@contoso.com"),
        "passwordCredentials": secrets,
        "preferredSingleSignOnMode": rng.maybe(0.85, "saml"),
        "replyUrls": ([] if sp_type != "Application"
                      else ["https://%s.example/auth" % app_id[:8]]),
        "servicePrincipalNames": [app_id] + (["api://" + app_id] if own else []),
        "servicePrincipalType": sp_type,
        "signInAudience": ("AzureADMyOrg" if own else "AzureADMultipleOrgs"),
        "tags": (["WindowsAzureActiveDirectoryIntegratedApp"]
                 if sp_type == "Application" else []),
    })
