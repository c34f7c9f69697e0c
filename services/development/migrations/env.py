from pentad.migrate import run_env
from services.development.models import Base

run_env(Base.metadata)
