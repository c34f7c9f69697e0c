from pentad.migrate import run_env
from services.integration.models import Base

run_env(Base.metadata)
