from pentad.migrate import run_env
from services.dmo.models import Base

run_env(Base.metadata)
