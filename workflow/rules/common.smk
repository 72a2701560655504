# Helpers shared by the rules: option strings derived from the configuration.


def mirror_option():
    mirror = config["data"].get("mirror")
    return f"--mirror {mirror}" if mirror else ""


def asset_options():
    local = config.get("assets", {}).get("local", {})
    pairs = " ".join(f"--asset {name}={path}" for name, path in local.items())
    return f"--asset-cache {ASSETS} {pairs}".strip()


def threads_per_job():
    return config.get("threads_per_job", 1)


def init_checkpoint(wildcards):
    source = VARIANTS[wildcards.variant].get("init_from")
    return [f"{RESULTS}/models/{source}/seed{wildcards.seed}/model.pt"] if source else []


def validation_data(wildcards):
    name = config["data"].get("validation")
    return [f"{DATA}/{name}"] if name else []


def model_file(wildcards):
    if wildcards.model == "bicubic":
        return []
    variant, seed = wildcards.model.rsplit("-s", 1)
    return [f"{RESULTS}/models/{variant}/seed{seed}/model.pt"]
