<?php
// PHP SoapClient: log in through SoPrincipal, GetStatistics with all three input headers, print canonical lines.
// SoapClient posts to the first port's address whatever the version, so the endpoint is given as 'location'
// (it is the same URL for both versions on services87).
const NS = 'http://www.superoffice.net/ws/crm/NetServer/Services87';
const APP_TOKEN = 'interop-matrix';
const TZ_LOCATION = 'Europe/Oslo';

$opts = getopt('', ['base:', 'soap:', 'user:', 'password:', 'panels:']);
$base = $opts['base'];
$version = ($opts['soap'] ?? '11') === '12' ? SOAP_1_2 : SOAP_1_1;
$panels = explode(',', $opts['panels']);

function client(string $base, string $service, int $version): SoapClient {
    $url = "$base/Remote/Services87/$service.svc";
    return new SoapClient("$url?wsdl", [
        'soap_version' => $version, 'location' => $url, 'cache_wsdl' => WSDL_CACHE_NONE,
        'exceptions' => true, 'trace' => true, 'features' => SOAP_SINGLE_ELEMENT_ARRAYS,
    ]);
}

function text($value): string {
    return $value === null ? '' : str_replace(["\t", "\r", "\n"], ' ', (string)$value);
}

try {
    $principal = client($base, 'SoPrincipal', $version);
    $principal->__setSoapHeaders([new SoapHeader(NS, 'ApplicationToken', APP_TOKEN)]);
    $auth = $principal->AuthenticateUsernamePassword(['UserName' => $opts['user'] ?? 'demo', 'Password' => $opts['password'] ?? 'demo']);
    $ticket = $auth->Credentials->Ticket ?? null;
    if (!$auth->AuthenticationSucceeded || strpos((string)$ticket, '7T:') !== 0) {
        fwrite(STDERR, "login failed: " . print_r($auth, true));
        exit(2);
    }

    $customer = client($base, 'CustomerService', $version);
    $customer->__setSoapHeaders([
        new SoapHeader(NS, 'ApplicationToken', APP_TOKEN),
        new SoapHeader(NS, 'Credentials', ['Ticket' => $ticket]),
        new SoapHeader(NS, 'TimeZone', ['SoTimeZoneId' => 0, 'SoTimeZoneLocationCode' => TZ_LOCATION]),
    ]);
    $outHeaders = [];
    $result = $customer->__soapCall('GetStatistics', [['Functions' => ['StatusScreenPanelType' => $panels]]], null, null, $outHeaders);
    if (isset($outHeaders['Succeeded']) && !$outHeaders['Succeeded']) {
        fwrite(STDERR, "Succeeded=false: " . print_r($outHeaders, true));
        exit(3);
    }
    $sets = $result->Response->StatisticsDataSet ?? [];
    if (count($sets) !== count($panels)) {
        fwrite(STDERR, 'expected ' . count($panels) . ' data sets, got ' . count($sets) . "\n");
        exit(1);
    }
    foreach ($sets as $i => $set) {
        echo $panels[$i], "\t#set\t", text($set->Label ?? null), "\n";
        foreach ($set->Values->StatisticsDataValue ?? [] as $value) {
            echo $panels[$i], "\t", text($value->Label ?? null), "\t", var_export((float)$value->Value, true), "\n";
        }
    }
} catch (SoapFault $fault) {
    fwrite(STDERR, "SoapFault: {$fault->faultcode}: {$fault->getMessage()}\n");
    if (isset($customer)) fwrite(STDERR, (string)$customer->__getLastResponse() . "\n");
    elseif (isset($principal)) fwrite(STDERR, (string)$principal->__getLastResponse() . "\n");
    exit(1);
}
