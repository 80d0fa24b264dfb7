# The CI recipes of docs/ci run here, so they cannot rot: the pwsh scripts are taken out of the YAML files as they
# are (the blocks marked '# s3lo-ci: <step>') and run, each in a fresh pwsh, in the order a pipeline runs them:
# install the module from a package repository into a fresh home, push and sign, the deploy gate (passes, then
# refuses the same tag once an unsigned image replaced it), and the scheduled prune. The GitHub Actions recipe runs
# against the test S3 server, the Azure Pipelines one against Azurite. What the test supplies is what the platform
# would: the recipe's own variables, with the store, the endpoint and the keys pointed at the test servers (an AWS
# KMS key becomes a PEM key file: no KMS runs here; the OIDC/workload identity sign-in becomes the servers' keys).
BeforeDiscovery {
    $script:Recipes = @(
        @{ Recipe = 'github-actions.yml'; Kind = 's3' }
        @{ Recipe = 'azure-pipelines.yml'; Kind = 'az' }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name ci -S3 -Azure
    $script:Work = $script:Suite.Work
    $script:Docs = Join-Path $PSScriptRoot '../../docs/ci'
    $script:Package = & (Join-Path $PSScriptRoot '../../build/New-S3loPackage.ps1') -ModulePath (Split-Path -Parent $env:S3LO_MODULE_PATH) -OutputDirectory (Join-Path $script:Work 'repo')
    $script:Pwsh = [Environment]::ProcessPath
    $script:PwshArgs = @(if ([IO.Path]::GetFileNameWithoutExtension($script:Pwsh) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })

    # The pwsh blocks of a recipe (run: | and Inline: | block scalars), cut at their '# s3lo-ci: <step>' markers.
    function Get-RecipeStep([string] $Path) {
        $lines = Get-Content -LiteralPath $Path
        $steps = [ordered]@{}
        for ($i = 0; $i -lt $lines.Count; $i++) {
            if ($lines[$i] -notmatch '^(\s*)(run|Inline): \|\s*$') { continue }
            $indent = $Matches[1].Length
            $block = [Collections.Generic.List[string]]::new()
            for ($j = $i + 1; $j -lt $lines.Count -and ($lines[$j] -match '^\s*$' -or ($lines[$j] -match '^(\s*)' -and $Matches[1].Length -gt $indent)); $j++) { $block.Add($lines[$j]) }
            $margin = ($block | Where-Object { $_.Trim() } | ForEach-Object { ($_ -replace '^(\s*).*', '$1').Length } | Measure-Object -Minimum).Minimum
            $name = $null
            foreach ($line in $block) {
                $text = if ($line.Length -ge $margin) { $line.Substring($margin) } else { '' }
                if ($text -match '^# s3lo-ci: (\S+)') { $name = $Matches[1]; $steps[$name] = '' }
                elseif ($name) { $steps[$name] += "$text`n" }
            }
            $i = $j - 1
        }
        $steps
    }

    # The recipe's own variables: the top-level env: (GitHub) or variables: (Azure Pipelines) mapping.
    function Get-RecipeVariable([string] $Path) {
        $variables = @{}
        $inside = $false
        foreach ($line in Get-Content -LiteralPath $Path) {
            if ($line -match '^(env|variables):\s*$') { $inside = $true; continue }
            if ($inside -and $line -match '^\S') { $inside = $false }
            if ($inside -and $line -match '^  (\w+): (.+)$') { $variables[$Matches[1]] = $Matches[2].Trim() }
        }
        $variables
    }

    # Runs one step in a fresh pwsh whose home is -Home, in -Directory, with only -Environment added.
    function Invoke-RecipeStep([string] $Script, [hashtable] $Environment, [string] $Directory, [string] $HomeDirectory) {
        $file = Join-Path $Directory "step-$([guid]::NewGuid().ToString('N').Substring(0, 8)).ps1"
        Set-Content -LiteralPath $file -Value $Script
        $all = @{ HOME = $HomeDirectory; XDG_DATA_HOME = Join-Path $HomeDirectory '.local/share'; XDG_CONFIG_HOME = Join-Path $HomeDirectory '.config'; PSModulePath = $null }
        foreach ($k in $Environment.Keys) { $all[$k] = $Environment[$k] }
        $saved = @{}
        foreach ($k in $all.Keys) { $saved[$k] = [Environment]::GetEnvironmentVariable($k); [Environment]::SetEnvironmentVariable($k, $all[$k]) }
        Push-Location $Directory
        try {
            $out = & $script:Pwsh @script:PwshArgs -NoLogo -NoProfile -NonInteractive -File $file 2>&1
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($out | Out-String) }
        } finally {
            Pop-Location
            foreach ($k in $saved.Keys) { [Environment]::SetEnvironmentVariable($k, $saved[$k]) }
            Remove-Item -LiteralPath $file -ErrorAction Ignore
        }
    }
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'The CI recipe <Recipe>' -ForEach $script:Recipes {
    BeforeAll {
        $path = Join-Path $script:Docs $Recipe
        $script:Steps = Get-RecipeStep $path
        $script:Variables = Get-RecipeVariable $path
        $script:Dir = Join-Path $script:Work ($Recipe -replace '\W', '-')
        $script:HomeDir = Join-Path $script:Dir 'home'
        $null = New-Item -ItemType Directory -Force (Join-Path $script:HomeDir '.local/share'), (Join-Path $script:HomeDir '.config')
        $script:Store = New-TestStore -Kind $Kind -Root $script:Dir -Server $(if ($Kind -eq 's3') { $script:Suite.Server } else { $script:Suite.AzureServer })
        $layout = New-TestImage -Path (Join-Path $script:Dir 'layout') -LayerSize 64KB
        $null = ConvertTo-TestArchive -Layout $layout -Format docker-archive -Path (Join-Path $script:Dir 'app.tar')
        $other = New-TestImage -Path (Join-Path $script:Dir 'other') -LayerSize 64KB
        $script:OtherArchive = ConvertTo-TestArchive -Layout $other -Format docker-archive -Path (Join-Path $script:Dir 'other.tar')

        # The package repository the install step names, registered in the fresh home as the platform's gallery would be.
        $register = Invoke-RecipeStep "Register-PSResourceRepository -Name S3loCi -Uri '$(Split-Path -Parent $script:Package)' -Trusted" @{} $script:Dir $script:HomeDir
        if ($register.ExitCode -ne 0) { throw "registering the package repository failed: $($register.Output)" }

        $commit = 'c0ffee' + [guid]::NewGuid().ToString('N')
        $script:Env = @{}
        foreach ($k in $script:Variables.Keys) { $script:Env[$k] = $script:Variables[$k] }
        $script:Env.S3LO_STORE = $script:Store.Uri
        $script:Env.S3LO_REPOSITORY = 'S3loCi'
        $script:Reference = "$($script:Store.Uri)$($script:Variables.S3LO_IMAGE):$($commit.Substring(0, 12))"
        $keyDir = Join-Path $script:Dir 'keys'
        $null = New-Item -ItemType Directory -Force $keyDir
        if ($Kind -eq 's3') {
            $server = $script:Suite.Server
            $platform = @{ GITHUB_SHA = $commit; GITHUB_OUTPUT = Join-Path $script:Dir 'github-output'; AWS_ENDPOINT_URL_S3 = $server.EndpointUrl
                AWS_ACCESS_KEY_ID = $server.AccessKey; AWS_SECRET_ACCESS_KEY = $server.SecretKey; AWS_REGION = $server.Region }
            # the KMS key of the recipe becomes a P-256 PEM key made by openssl
            $null = Invoke-TestProgram openssl @('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', (Join-Path $keyDir 'signing.pem'))
            $null = Invoke-TestProgram openssl @('pkey', '-in', (Join-Path $keyDir 'signing.pem'), '-pubout', '-out', (Join-Path $keyDir 'signing.pub.pem'))
            $script:Env.S3LO_SIGNING_KEY = Join-Path $keyDir 'signing.pem'
        } else {
            $server = $script:Suite.AzureServer
            $platform = @{ BUILD_SOURCEVERSION = $commit
                AZURE_STORAGE_CONNECTION_STRING = "DefaultEndpointsProtocol=http;AccountName=$($server.AccountName);AccountKey=$($server.AccountKey);BlobEndpoint=$($server.EndpointUrl)" }
            # the secure file: a cosign-format key file made by python3-nacl (the system python3: PyNaCl is an apt package), unlocked by COSIGN_PASSWORD
            $password = 'ci-secret-' + [guid]::NewGuid().ToString('N').Substring(0, 8)
            $null = Invoke-TestProgram openssl @('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', (Join-Path $keyDir 'signing.pem'))
            $null = Invoke-TestProgram openssl @('pkey', '-in', (Join-Path $keyDir 'signing.pem'), '-pubout', '-out', (Join-Path $keyDir 'signing.pub.pem'))
            $null = Invoke-TestProgram openssl @('pkcs8', '-topk8', '-nocrypt', '-in', (Join-Path $keyDir 'signing.pem'), '-outform', 'DER', '-out', (Join-Path $keyDir 'signing.der'))
            $null = Invoke-TestProgram /usr/bin/python3 @((Join-Path $PSScriptRoot 'fixtures/make-cosign-key.py'), (Join-Path $keyDir 'signing.der'), $password, (Join-Path $keyDir 'signing.key'))
            $platform += @{ SIGNINGKEY_SECUREFILEPATH = Join-Path $keyDir 'signing.key'; COSIGN_PASSWORD = $password }
        }
        foreach ($k in $platform.Keys) { $script:Env[$k] = $platform[$k] }
        $script:Env.S3LO_VERIFY_KEY = Join-Path $keyDir 'signing.pub.pem'
        $script:Run = {
            param([string] $Step, [hashtable] $Extra = @{})
            $environment = $script:Env.Clone()
            foreach ($k in $Extra.Keys) { $environment[$k] = $Extra[$k] }
            Invoke-RecipeStep $script:Steps[$Step] $environment $script:Dir $script:HomeDir
        }
    }

    It 'has the steps a pipeline needs, and every variable its scripts read is set by the recipe or by the platform' {
        @($script:Steps.Keys) | Should -Be @('install', 'push-and-sign', 'gate', 'prune')
        $read = $script:Steps.Values | ForEach-Object { [regex]::Matches($_, '\$env:(\w+)') } | ForEach-Object { $_.Groups[1].Value } | Sort-Object -Unique
        $platform = 'GITHUB_SHA', 'GITHUB_OUTPUT', 'BUILD_SOURCEVERSION', 'SIGNINGKEY_SECUREFILEPATH', 'S3LO_REFERENCE'
        @($read | Where-Object { $_ -notin $platform -and -not $script:Variables.ContainsKey($_) }) | Should -BeNullOrEmpty
    }

    It 'installs the module from the repository into a fresh home' {
        $r = & $script:Run 'install'
        $r.ExitCode | Should -Be 0 -Because $r.Output
        Get-ChildItem -Recurse -Filter S3lo.psd1 (Join-Path $script:HomeDir '.local/share/powershell/Modules') | Should -Not -BeNullOrEmpty
    }

    It 'pushes the image built earlier in the job and signs it' {
        $r = & $script:Run 'push-and-sign'
        $r.ExitCode | Should -Be 0 -Because $r.Output
        if ($Kind -eq 's3') { Get-Content -Raw $script:Env.GITHUB_OUTPUT | Should -Match ([regex]::Escape("reference=$($script:Reference)")) }
        else { $r.Output | Should -Match ([regex]::Escape("##vso[task.setvariable variable=reference;isOutput=true]$($script:Reference)")) }
        $params = $script:Store.Params
        $signatures = @(Get-S3loImageSignature $script:Reference @params -PublicKeyPath $script:Env.S3LO_VERIFY_KEY)
        $signatures.Count | Should -Be 1
        $signatures[0].Status | Should -Be 'Valid'
        $signatures[0].Digest | Should -Be (Get-S3loImage $script:Reference @params).Digest
    }

    It 'lets the deploy go on for the signed image, and stops it once an unsigned image took the tag' {
        $ok = & $script:Run 'gate' @{ S3LO_REFERENCE = $script:Reference }
        $ok.ExitCode | Should -Be 0 -Because $ok.Output

        $params = $script:Store.Params
        $null = Push-S3loImage $script:OtherArchive $script:Reference @params
        $refused = & $script:Run 'gate' @{ S3LO_REFERENCE = $script:Reference }
        $refused.ExitCode | Should -Be 1 -Because $refused.Output
        $refused.Output | Should -Match 'is not signed by'
    }

    It 'prunes by the store policy on schedule' {
        $params = $script:Store.Params
        $image = $script:Variables.S3LO_IMAGE
        Set-S3loPolicy $script:Store.Uri -Name $image -KeepLast 1 @params -Confirm:$false
        Start-Sleep -Seconds 1.1   # tag ages are compared at the store's clock, in whole seconds on S3
        $null = Push-S3loImage $script:OtherArchive "$($script:Store.Uri)${image}:newer" @params
        $r = & $script:Run 'prune'
        $r.ExitCode | Should -Be 0 -Because $r.Output
        @(Get-S3loImage $script:Store.Uri @params).Tag | Should -Be @('newer')
    }
}
