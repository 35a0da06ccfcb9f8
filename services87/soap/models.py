"""Spyne models mirroring the vendor's Services87 WSDL: type names, element names and element order.

Only what ``CustomerService.GetStatistics`` and ``SoPrincipal`` send or receive is modelled. Every
element of the vendor schema is ``minOccurs="0"``; a Python ``None`` is simply left out on the wire.
"""

from __future__ import annotations

from spyne import Array, Boolean, ComplexModel, DateTime, Double, Integer32, Unicode

TNS = "http://www.superoffice.net/ws/crm/NetServer/Services87"
NS_ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"


class _Base(ComplexModel):
    __namespace__ = TNS


# --------------------------------------------------------------------------- Carrier
class TableRight(_Base):
    _type_info = [("Mask", Unicode), ("Reason", Unicode)]  # Mask: ETableRight, an xs:list of flag names


class FieldRight(_Base):
    _type_info = [("Mask", Unicode), ("Reason", Unicode)]


class FieldProperty(_Base):
    _type_info = [("FieldRight", FieldRight), ("FieldType", Unicode), ("FieldLength", Integer32)]


class FieldPropertyDictionaryKeyValuePair(_Base):
    _type_info = [("Key", Unicode), ("Value", FieldProperty)]


class FieldPropertyDictionary(_Base):
    _type_info = [("FieldPropertyDictionaryKeyValuePair",
                   FieldPropertyDictionaryKeyValuePair.customize(max_occurs="unbounded"))]


class Carrier(_Base):
    _type_info = [("TableRight", TableRight), ("FieldProperties", FieldPropertyDictionary)]


# --------------------------------------------------------------------------- GetStatistics
class StatusScreenPanelType(Unicode):
    """Sent by name. Not an enumeration here: an unknown name is an application error (ExceptionInfo
    ``UnknownPanel`` from the engine), not a schema fault."""

    __type_name__ = "StatusScreenPanelType"
    __namespace__ = TNS


ArrayOfStatusScreenPanelType = Array(StatusScreenPanelType, type_name="ArrayOfStatusScreenPanelType")


class StatisticsDataValue(Carrier):
    _type_info = [("Label", Unicode), ("Value", Double), ("Description", Unicode)]


ArrayOfStatisticsDataValue = Array(StatisticsDataValue, type_name="ArrayOfStatisticsDataValue")


class StatisticsDataSet(Carrier):
    _type_info = [("Label", Unicode), ("Values", ArrayOfStatisticsDataValue), ("Description", Unicode)]


ArrayOfStatisticsDataSet = Array(StatisticsDataSet, type_name="ArrayOfStatisticsDataSet")


# --------------------------------------------------------------------------- headers
class SoCredentials(_Base):
    _type_info = [("Ticket", Unicode)]


class SoTimeZone(_Base):
    _type_info = [("SoTimeZoneId", Integer32), ("SoTimeZoneLocationCode", Unicode)]


class SoExceptionInfoParametersKeyValuePair(_Base):
    _type_info = [("Key", Unicode), ("Value", Unicode)]


class SoExceptionInfoParameters(_Base):
    _type_info = [("SoExceptionInfoParametersKeyValuePair",
                   SoExceptionInfoParametersKeyValuePair.customize(max_occurs="unbounded"))]


class SoExceptionInfo(_Base):
    """``InnerException`` (between Source and Parameters) is never sent, so it is not modelled."""

    _type_info = [("Message", Unicode), ("StackTrace", Unicode), ("FriendlyText", Unicode),
                  ("ExceptionType", Unicode), ("Source", Unicode),
                  ("Parameters", SoExceptionInfoParameters)]


class ExtraInfoNameValuePair(_Base):
    _type_info = [("Key", Unicode), ("Value", Unicode)]


class SoExtraInfo(_Base):
    _type_info = [("ExtraInfoNameValuePair", ExtraInfoNameValuePair.customize(max_occurs="unbounded"))]


class ApplicationToken(Unicode):
    __type_name__ = "ApplicationToken"
    __namespace__ = TNS


class Succeeded(Boolean):
    __type_name__ = "Succeeded"
    __namespace__ = TNS


#: Header element types: Spyne matches headers by ``{namespace}type_name``, so the type name is the element name.
CredentialsHeader = SoCredentials.customize(type_name="Credentials")
TimeZoneHeader = SoTimeZone.customize(type_name="TimeZone")
ExceptionInfoHeader = SoExceptionInfo.customize(type_name="ExceptionInfo")
ExtraInfoHeader = SoExtraInfo.customize(type_name="ExtraInfo")

IN_HEADERS_CUSTOMER_SERVICE = (ApplicationToken, CredentialsHeader, TimeZoneHeader)
IN_HEADERS_SO_PRINCIPAL = (ApplicationToken,)
OUT_HEADERS = (ExceptionInfoHeader, ExtraInfoHeader, Succeeded, TimeZoneHeader)


# --------------------------------------------------------------------------- SoPrincipal
ArrayOfint = Array(Integer32, type_name="ArrayOfint").customize(namespace=NS_ARRAYS)
ArrayOfstring = Array(Unicode, type_name="ArrayOfstring").customize(namespace=NS_ARRAYS)


class GrantedModuleLicense(Carrier):
    _type_info = [("OwnerId", Integer32), ("OwnerName", Unicode), ("OwnerDescription", Unicode),
                  ("ModuleId", Integer32), ("Name", Unicode), ("Description", Unicode), ("Version", Unicode),
                  ("LicenseType", Unicode), ("ExtraFlags", Integer32), ("SortOrder", Integer32),
                  ("LicenseNumber", Integer32), ("IsHidden", Boolean), ("IsUnrestricted", Boolean),
                  ("ExpiryDate", DateTime)]


class ProvidedCredential(_Base):
    _type_info = [("Type", Unicode), ("SearchName", Unicode), ("DisplayName", Unicode),
                  ("CredentialId", Integer32)]


class SoPrincipalCarrier(_Base):
    _type_info = [
        ("UserType", Unicode), ("Associate", Unicode), ("AssociateId", Integer32), ("IsPerson", Boolean),
        ("PersonId", Integer32), ("CountryId", Integer32), ("HomeCountryId", Integer32),
        ("ContactId", Integer32), ("GroupId", Integer32), ("BusinessId", Integer32), ("CategoryId", Integer32),
        ("ContactOwner", Integer32), ("RoleId", Integer32), ("RoleName", Unicode), ("RoleDescription", Unicode),
        ("RoleType", Unicode),
        ("Licenses", Array(GrantedModuleLicense, type_name="ArrayOfGrantedModuleLicense")),
        ("FullName", Unicode), ("EMailAddress", Unicode), ("FunctionRights", ArrayOfstring),
        ("EjUserId", Integer32), ("EjAccessLevel", Integer32), ("EjUserStatus", Unicode),
        ("ProvidedCredentials", Array(ProvidedCredential, type_name="ArrayOfProvidedCredential")),
        ("SecondaryGroups", ArrayOfint), ("DatabaseContextIdentifier", Unicode),
    ]


class AuthenticateResponse(_Base):
    """The one response element all four ``Authenticate*`` operations share."""

    _type_info = [("Response", SoPrincipalCarrier), ("Credentials", SoCredentials),
                  ("AuthenticationSucceeded", Boolean)]


class AuthenticationGenericDataKeyValuePair(_Base):
    _type_info = [("Key", Unicode), ("Value", Unicode)]


class AuthenticationGenericData(_Base):
    _type_info = [("AuthenticationGenericDataKeyValuePair",
                   AuthenticationGenericDataKeyValuePair.customize(max_occurs="unbounded"))]


class LicenseInfo(_Base):
    """Not filled by services87 (always left out)."""

    _type_info = [("CompanyName", Unicode)]


class SoSystemInfoCarrier(Carrier):
    _type_info = [
        ("License", LicenseInfo), ("WarningEnglish", Unicode), ("WarningResource", Unicode),
        ("BranchName", Unicode), ("BuildLabel", Unicode), ("AssemblyVersion", Unicode),
        ("AccumulatedNextCheckDate", DateTime), ("FileVersion", Unicode), ("Description", Unicode),
        ("DaysUntilNetServerExpiry", Integer32), ("BuildType", Unicode), ("DatabaseVersion", Integer32),
        ("IsUnicode", Boolean), ("CompanyName", Unicode), ("CompanyId", Integer32), ("DatabaseType", Unicode),
        ("DatabaseMinor", Unicode), ("DatabaseName", Unicode), ("IsOnTravel", Boolean), ("IsSatellite", Boolean),
    ]
