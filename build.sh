#!/usr/bin/env bash
# Runs build.ps1 with the PowerShell pinned in .config/dotnet-tools.json (restored on first use).
# Usage: ./build.sh [Build|Test|Demo|Bench|Clean|Help ...] [-Configuration Debug]
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
if ! dotnet tool run pwsh -Version >/dev/null 2>&1; then
  dotnet tool restore
fi
exec dotnet tool run pwsh -NoLogo -NoProfile -NonInteractive -File build.ps1 "$@"
