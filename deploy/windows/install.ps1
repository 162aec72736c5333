#Requires -RunAsAdministrator
<#
.SYNOPSIS
    Install, upgrade or remove Tagbridge as a Windows service.

.DESCRIPTION
    Idempotent: run it again with a new binary to upgrade. The config and the
    PKI under %ProgramData%\Tagbridge are never overwritten or removed.

      binary   %ProgramFiles%\Tagbridge\tagbridge.exe
      config   %ProgramData%\Tagbridge\tagbridge.yaml  (installed once from deploy\tagbridge.example.yaml)
      PKI      %ProgramData%\Tagbridge\pki             (own\ trusted\ rejected\)
      logs     Windows Event Log, Application, source "Tagbridge"

    The service runs as the virtual account "NT SERVICE\Tagbridge", starts
    automatically (delayed) and is restarted by the SCM when it fails.

.EXAMPLE
    .\deploy\windows\install.ps1 -Binary .\dist\tagbridge-windows-amd64.exe

.EXAMPLE
    .\deploy\windows\install.ps1 -Uninstall
#>
[CmdletBinding()]
param(
    # The tagbridge.exe to install.
    [string]$Binary = '.\tagbridge.exe',
    [string]$ServiceName = 'Tagbridge',
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'Tagbridge'),
    # Install and enable, but do not start.
    [switch]$NoStart,
    # Allow inbound connections to tagbridge.exe in Windows Firewall (OPC UA clients).
    [switch]$OpenFirewall,
    # Stop and delete the service and its event source; keep config and PKI.
    [switch]$Uninstall
)
$ErrorActionPreference = 'Stop'

$dataDir = Join-Path $env:ProgramData 'Tagbridge'
$config = Join-Path $dataDir 'tagbridge.yaml'
$pki = Join-Path $dataDir 'pki'
$exe = Join-Path $InstallDir 'tagbridge.exe'
$account = "NT SERVICE\$ServiceName"
$svcKey = "HKLM:\SYSTEM\CurrentControlSet\Services\$ServiceName"
$eventKey = "HKLM:\SYSTEM\CurrentControlSet\Services\EventLog\Application\$ServiceName"
$firewallRule = "$ServiceName OPC UA"

function Stop-Tagbridge {
    $svc = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
    if ($svc -and $svc.Status -ne 'Stopped') {
        Stop-Service -Name $ServiceName
        $svc.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(30))
        return $true
    }
    return $false
}

if ($Uninstall) {
    [void](Stop-Tagbridge)
    if (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue) {
        & sc.exe delete $ServiceName | Out-Null
    }
    if (Test-Path $eventKey) { Remove-Item -Recurse -Force $eventKey }
    Get-NetFirewallRule -DisplayName $firewallRule -ErrorAction SilentlyContinue | Remove-NetFirewallRule
    Write-Host "Removed service $ServiceName. Kept $dataDir (config, PKI) and $InstallDir."
    return
}

if (-not (Test-Path -PathType Leaf $Binary)) {
    throw "Binary $Binary not found; pass -Binary path\to\tagbridge-windows-amd64.exe"
}
$Binary = (Resolve-Path $Binary).Path
# A binary for the wrong architecture fails here, before anything changes.
& $Binary version | Out-Null
if ($LASTEXITCODE -ne 0) { throw "$Binary does not run on this machine" }

# 1. Stop a running service (an upgrade) so its file can be replaced.
$wasRunning = Stop-Tagbridge

# 2. Folders and the binary.
New-Item -ItemType Directory -Force -Path $InstallDir, $dataDir, $pki | Out-Null
Copy-Item -Force -Path $Binary -Destination $exe
Write-Host "Installed $exe ($(& $exe version | Select-Object -First 1))"

# 3. The config: installed once, never overwritten. Written as UTF-8
# without a byte order mark.
$configOK = $true
if (-not (Test-Path $config)) {
    $example = Join-Path $PSScriptRoot '..\tagbridge.example.yaml'
    $text = (Get-Content -Raw -Path $example) -replace 'pki: /var/lib/tagbridge/pki', "pki: '$pki'"
    [System.IO.File]::WriteAllText($config, $text, (New-Object System.Text.UTF8Encoding $false))
    Write-Host "Installed an example config at ${config}: edit it for your devices"
} else {
    & $exe validate --config $config
    if ($LASTEXITCODE -ne 0) {
        $configOK = $false
        Write-Warning "The new binary rejects $config (errors above); fix it before starting the service"
    }
}

# 4. The service: delayed automatic start, restart on failure (exit code 2
# is a runtime failure; failureflag 1 applies the actions to it).
$binPath = "`"$exe`" run --config `"$config`""
if (-not (Get-Service -Name $ServiceName -ErrorAction SilentlyContinue)) {
    New-Service -Name $ServiceName -BinaryPathName $binPath -DisplayName 'Tagbridge protocol gateway' `
        -Description 'Polls PLCs and CNC machines (Modbus, MTConnect) and serves their tags over OPC UA.' `
        -StartupType Automatic | Out-Null
    Write-Host "Created service $ServiceName"
} else {
    Set-ItemProperty -Path $svcKey -Name ImagePath -Value $binPath
}
& sc.exe config $ServiceName start= delayed-auto obj= $account | Out-Null
& sc.exe failure $ServiceName reset= 86400 actions= restart/5000/restart/5000/restart/30000 | Out-Null
& sc.exe failureflag $ServiceName 1 | Out-Null

# 5. Only SYSTEM, Administrators and the service account may read the data
# folder: the config holds password hashes, pki\own the private key.
& icacls.exe $dataDir /inheritance:r /grant:r '*S-1-5-18:(OI)(CI)F' '*S-1-5-32-544:(OI)(CI)F' "${account}:(OI)(CI)M" | Out-Null

# 6. The Event Log source the service logs to (as eventlog.InstallAsEventCreate).
if (-not (Test-Path $eventKey)) { New-Item -Path $eventKey -Force | Out-Null }
New-ItemProperty -Path $eventKey -Name EventMessageFile -PropertyType ExpandString `
    -Value '%SystemRoot%\System32\EventCreate.exe' -Force | Out-Null
New-ItemProperty -Path $eventKey -Name TypesSupported -PropertyType DWord -Value 7 -Force | Out-Null

if ($OpenFirewall -and -not (Get-NetFirewallRule -DisplayName $firewallRule -ErrorAction SilentlyContinue)) {
    New-NetFirewallRule -DisplayName $firewallRule -Direction Inbound -Action Allow -Program $exe -Protocol TCP | Out-Null
    Write-Host "Firewall: inbound TCP to $exe allowed"
}

# 7. Start (or restart after an upgrade).
if ($NoStart -or -not $configOK) {
    Write-Host "Start it with: Start-Service $ServiceName"
} else {
    Start-Service -Name $ServiceName
    $verb = if ($wasRunning) { 'Upgraded and restarted' } else { 'Started' }
    Write-Host "$verb $ServiceName. Logs: Event Viewer > Windows Logs > Application, source $ServiceName"
}
