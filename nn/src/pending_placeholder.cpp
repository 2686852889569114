// placeholder until nn/ lands (removed before commit)
